"""Criteria keys (st2-format §4.2): JSONPath subset, indexes, hyphens, ``#n`` suffix, misses."""

from __future__ import annotations

from typing import Any

import pytest

from core.rules.keys import WILDCARD, KeyPathError, find_values, lookup, parse_key, strip_suffix

ROOT: dict[str, Any] = {
    "trigger": {
        "body": {"name": "st2", "repository": {"name": "squall"}, "empty": "", "zero": 0},
        "items": [{"id": 1}, {"id": 2, "tags": ["x", "y"]}],
        "headers": {"X-Github-Event": "push", "Content-Type": "application/json"},
        "a.b": "dotted",
        "with space": "spaced",
        "nothing": None,
        "@type": "at",
        "flag": False,
    }
}


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("trigger.body.name", "st2"),
        ("trigger.body.repository.name", "squall"),
        ("trigger.items[0].id", 1),
        ("trigger.items[1].id", 2),
        ("trigger.items[-1].id", 2),
        ("trigger.items[1].tags[0]", "x"),
        ("trigger.items[ 1 ].id", 2),
        ("trigger.headers.X-Github-Event", "push"),
        ("trigger.headers.Content-Type", "application/json"),
        ("trigger.'a.b'", "dotted"),
        ('trigger."with space"', "spaced"),
        ("trigger.@type", "at"),
        ("trigger.body.empty", ""),
        ("trigger.body.zero", 0),
        ("trigger.flag", False),
        # Several matches: the first one wins.
        ("trigger.items[*].id", 1),
        ("trigger.items.*.id", 1),
        # The suffix only makes mapping keys unique.
        ("trigger.body.name#1", "st2"),
        ("trigger.body.name#2", "st2"),
        ("trigger.items[0].id#x", 1),
    ],
)
def test_lookup(key: str, expected: Any) -> None:
    assert lookup(ROOT, key) == expected


@pytest.mark.parametrize(
    "key",
    [
        "trigger.missing",
        "trigger.body.name.deeper",  # a field of a string
        "trigger.items[5].id",  # index out of range
        "trigger.items[-3]",
        "trigger.body[0]",  # an index into a dict
        "trigger.items.id",  # a field of a list
        "trigger.nothing",  # present but null: st2 cannot tell it from missing
        "system.anything",
    ],
)
def test_missing_key_is_none(key: str) -> None:
    assert lookup(ROOT, key) is None


def test_find_values_lists_every_match() -> None:
    assert find_values(ROOT, "trigger.items[*].id") == [1, 2]
    assert find_values(ROOT, "trigger.items[*].tags[*]") == ["x", "y"]
    assert find_values(ROOT, "trigger.nope") == []


def test_parse_key_steps() -> None:
    assert parse_key("trigger.items[0].id") == ("trigger", "items", 0, "id")
    assert parse_key("trigger.h.X-Y#3") == ("trigger", "h", "X-Y")
    assert parse_key("trigger.x[*]") == ("trigger", "x", WILDCARD)


def test_strip_suffix() -> None:
    assert strip_suffix("trigger.x#2") == "trigger.x"
    assert strip_suffix("trigger.x") == "trigger.x"


@pytest.mark.parametrize(
    "key", ["", "#1", ".trigger", "trigger..x", "trigger.", "[0]", "trigger x", "trigger.0"]
)
def test_invalid_keys(key: str) -> None:
    with pytest.raises(KeyPathError, match="invalid criteria key"):
        parse_key(key)

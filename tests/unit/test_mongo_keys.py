"""Escaping of user-data keys for MongoDB: safe, reversible and one-to-one."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from core.store.mongo_keys import escape_key, escape_keys, unescape_key, unescape_keys

# (key, stored form): every escape, alone, combined and next to text that looks like one.
CASES = [
    ("", ""),
    ("plain", "plain"),
    ("user", "user"),
    ("a.b", "a\\u002eb"),
    ("...", "\\u002e\\u002e\\u002e"),
    ("$x", "\\u0024x"),
    ("$", "\\u0024"),
    ("$$", "\\u0024$"),
    ("a$b", "a$b"),
    ("price$", "price$"),
    ("c\\d", "c\\\\d"),
    ("\\", "\\\\"),
    ("\\\\", "\\\\\\\\"),
    ("nul\0here", "nul\\u0000here"),
    ("$ref.id", "\\u0024ref\\u002eid"),
    ("\\.", "\\\\\\u002e"),
    ("\\u002e", "\\\\u002e"),
    ("\\u0024x", "\\\\u0024x"),
    ("u002e", "u002e"),
    ("\\$", "\\\\$"),
    ("é.✓", "é\\u002e✓"),
]

# Pieces that combine into every tricky neighbour: escapes, their look-alikes and plain text.
PIECES = ["", ".", "$", "\\", "\0", "u002e", "u0024", "\\u002e", "a"]


def mongo_safe(key: str) -> bool:
    return "." not in key and "\0" not in key and not key.startswith("$")


@pytest.mark.parametrize(("key", "stored"), CASES)
def test_escape_key_table(key: str, stored: str) -> None:
    assert escape_key(key) == stored
    assert unescape_key(stored) == key


def test_every_combination_round_trips_to_a_safe_distinct_key() -> None:
    keys = {"".join(parts) for parts in itertools.product(PIECES, repeat=3)}
    stored = {key: escape_key(key) for key in keys}
    for key, escaped in stored.items():
        assert mongo_safe(escaped), key
        assert unescape_key(escaped) == key
    assert len(set(stored.values())) == len(keys), "two keys share a stored form"


def test_escaping_is_not_idempotent_but_still_reverses() -> None:
    twice = escape_key(escape_key("a.b"))
    assert twice == "a\\\\u002eb"
    assert unescape_key(unescape_key(twice)) == "a.b"


def test_a_lone_backslash_from_an_older_document_reads_back_as_is() -> None:
    assert unescape_key("C:\\temp") == "C:\\temp"
    assert unescape_key("trailing\\") == "trailing\\"


DOCUMENTS: list[Any] = [
    None,
    "a.b",
    42,
    [],
    {},
    {"headers": {"content.type": "text/plain", "$ref": "#/x"}, "c\\d": [1, 2.5, None]},
    [{"a.b": [{"$x": {"c\\d": "v.a.l.u.e"}}]}, "$not-a-key", [[{"...": True}]]],
    {"user": "alice", "rule": {"ref": "pack.rule"}},
]


@pytest.mark.parametrize("value", DOCUMENTS)
def test_nested_documents_round_trip(value: Any) -> None:
    assert unescape_keys(escape_keys(value)) == value


def test_nested_keys_are_escaped_and_values_are_not() -> None:
    value = {"a.b": [{"$x": "$x.y"}], "ok": {"c\\d": "c\\d"}}
    assert escape_keys(value) == {
        "a\\u002eb": [{"\\u0024x": "$x.y"}],
        "ok": {"c\\\\d": "c\\d"},
    }


def test_escape_keys_does_not_change_its_input() -> None:
    value = {"a.b": {"c.d": [1]}}
    escape_keys(value)
    assert value == {"a.b": {"c.d": [1]}}


def test_tuples_come_back_as_lists() -> None:
    assert escape_keys({"t": ({"a.b": 1},)}) == {"t": [{"a\\u002eb": 1}]}

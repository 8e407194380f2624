"""Rule criteria evaluation (st2-format §4.2, §4.3): AND, templates, search, broken criteria."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.rules import CriteriaResult, evaluate_criteria

PUSH: dict[str, Any] = {
    "body": {
        "repository": {"name": "st2"},
        "ref": "refs/heads/main",
        "commits": [
            {"author": {"name": "Stanley"}, "added": 2},
            {"author": {"name": "kami"}, "added": 0},
        ],
    },
    "headers": {"X-Github-Event": "push"},
    "int": 5,
    "str_int": "5",
    "flag": True,
    "allowed": ["st2", "squall"],
    "branch": "main",
}


def child(type_: str, pattern: Any) -> dict[str, Any]:
    return {"type": type_, "pattern": pattern}


def crit(key: str, type_: str, pattern: Any = None, **extra: Any) -> dict[str, Any]:
    return {key: {"type": type_, "pattern": pattern, **extra}}


def test_doc_example_matches() -> None:
    criteria = {
        "trigger.body.repository.name": child("equals", "st2"),
        "trigger.body.ref": child("regex", "^refs/heads/(main|master)$"),
        "trigger.body.commits": {
            "type": "search",
            "condition": "any",
            "pattern": {"item.author.name": child("iequals", "stanley")},
        },
    }
    result = evaluate_criteria(criteria, PUSH)
    assert result == CriteriaResult(matched=True, details=result.details)
    assert [d.matched for d in result.details] == [True, True, True]


def test_all_criteria_must_match_and_evaluation_stops_at_first_failure() -> None:
    criteria = {
        "trigger.body.repository.name": child("equals", "foo"),
        "trigger.body.ref": child("nosuchop", "x"),
    }
    result = evaluate_criteria(criteria, PUSH)
    assert not result.matched
    assert result.failed_key == "trigger.body.repository.name"
    assert result.reason == "trigger.body.repository.name: equals 'foo' but value was 'st2'"
    assert result.error is None
    assert len(result.details) == 1


def test_empty_criteria_match_anything() -> None:
    assert evaluate_criteria({}, {}).matched
    assert evaluate_criteria({}, PUSH).matched


def test_criteria_with_empty_payload_do_not_match() -> None:
    result = evaluate_criteria(crit("trigger.x", "nexists"), {})
    assert not result.matched
    assert result.reason is not None and "no payload" in result.reason


def test_hyphenated_header_and_list_index() -> None:
    criteria = {
        "trigger.headers.X-Github-Event": child("eq", "push"),
        "trigger.body.commits[1].author.name": child("equals", "kami"),
    }
    assert evaluate_criteria(criteria, PUSH).matched


def test_same_key_twice_with_suffix() -> None:
    criteria = {
        "trigger.int#1": child("greaterthan", 1),
        "trigger.int#2": child("lessthan", 10),
    }
    assert evaluate_criteria(criteria, PUSH).matched
    criteria["trigger.int#2"]["pattern"] = 5
    result = evaluate_criteria(criteria, PUSH)
    assert (result.matched, result.failed_key) == (False, "trigger.int#2")


@pytest.mark.parametrize(
    ("type_", "pattern", "expected"),
    [
        ("exists", None, False),
        ("nexists", None, True),
        ("equals", "x", False),
        ("nequals", "x", True),  # None != "x"
        ("contains", "x", False),  # TypeError on None -> no match
        ("lessthan", 1, False),
        ("regex", ".*", False),
    ],
)
def test_missing_key_is_seen_as_none(type_: str, pattern: Any, expected: bool) -> None:
    result = evaluate_criteria(crit("trigger.body.missing", type_, pattern), PUSH)
    assert result.matched is expected
    assert result.error is None


def test_type_error_is_a_plain_mismatch() -> None:
    result = evaluate_criteria(crit("trigger.int", "lessthan", "a"), PUSH)
    assert not result.matched
    assert result.error is None
    assert result.reason is not None and "TypeError" in result.reason


def test_bytes_payload_values_are_decoded() -> None:
    assert evaluate_criteria(crit("trigger.raw", "equals", "abc"), {"raw": b"abc"}).matched


# --- patterns: no casting, templates with type preservation -------------------------------------


@pytest.mark.parametrize(
    ("key", "type_", "pattern", "expected"),
    [
        ("trigger.flag", "equals", "True", False),  # a plain string stays a string
        ("trigger.flag", "equals", True, True),
        ("trigger.int", "equals", "5", False),
        ("trigger.int", "equals", 5, True),
        ("trigger.int", "equals", "{{ trigger.int }}", True),  # rendered to int 5
        ("trigger.int", "equals", "{{trigger.int}}", True),
        ("trigger.str_int", "equals", "{{ trigger.str_int }}", True),
        ("trigger.int", "equals", "{{ trigger.str_int }}", False),  # "5" stays a string
        ("trigger.flag", "equals", "{{ trigger.flag }}", True),
        ("trigger.int", "greaterthan", "{{ trigger.int - 1 }}", True),
        ("trigger.body.repository.name", "inside", "{{ trigger.allowed }}", True),
        ("trigger.body", "equals", "{{ trigger.body }}", True),
        ("trigger.body.ref", "equals", "refs/heads/{{ trigger.branch }}", True),
        ("trigger.body.ref", "endswith", "{% if trigger.flag %}main{% endif %}", True),
    ],
)
def test_patterns(key: str, type_: str, pattern: Any, expected: bool) -> None:
    result = evaluate_criteria(crit(key, type_, pattern), PUSH)
    assert result.matched is expected, result.reason


def test_rendered_pattern_is_recorded() -> None:
    (detail,) = evaluate_criteria(crit("trigger.int", "equals", "{{ trigger.int }}"), PUSH).details
    assert detail.pattern == 5
    assert detail.value == 5


def test_context_is_available_to_templates_and_keys() -> None:
    context = {"st2kv": {"system": {"repo": "st2"}}}
    criteria = {
        "trigger.body.repository.name": child("equals", "{{ st2kv.system.repo }}"),
        "st2kv.system.repo": child("equals", "st2"),
    }
    assert evaluate_criteria(criteria, PUSH, context=context).matched


def test_context_cannot_replace_trigger() -> None:
    context = {"trigger": {"int": 99}}
    assert evaluate_criteria(crit("trigger.int", "equals", 5), PUSH, context=context).matched


# --- timediff needs the caller's clock -----------------------------------------------------------


def test_timediff_with_now() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    payload = {"at": (now - timedelta(seconds=30)).isoformat()}
    assert evaluate_criteria(crit("trigger.at", "timediff_lt", 60), payload, now=now).matched
    assert evaluate_criteria(crit("trigger.at", "td_gt", "10"), payload, now=now).matched
    assert not evaluate_criteria(crit("trigger.at", "timediff_gt", 60), payload, now=now).matched


def test_timediff_without_now_is_a_broken_criterion() -> None:
    result = evaluate_criteria(crit("trigger.at", "timediff_lt", 60), {"at": "2026-01-01"})
    assert not result.matched
    assert result.error is not None and "now" in result.error


# --- search ---------------------------------------------------------------------------------------

ITEMS = {"items": [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}, {"a": 3, "b": "x"}]}


@pytest.mark.parametrize(
    ("condition", "children", "expected"),
    [
        # any: some element matches all children
        ("any", {"item.a": child("equals", 2)}, True),
        ("any", {"item.a#1": child("gt", 1), "item.b": child("eq", "x")}, True),
        ("any", {"item.a": child("equals", 2), "item.b": child("eq", "x")}, False),
        # all: every element matches all children
        ("all", {"item.a": child("gt", 0)}, True),
        ("all", {"item.a": child("gt", 0), "item.b": child("eq", "x")}, False),
        # any2any: some element matches some child
        ("any2any", {"item.a": child("eq", 9), "item.b": child("eq", "y")}, True),
        ("any2any", {"item.a": child("eq", 9), "item.b": child("eq", "z")}, False),
        # all2any: every element matches some child
        ("all2any", {"item.a": child("eq", 2), "item.b": child("eq", "x")}, True),
        ("all2any", {"item.a": child("eq", 1), "item.b": child("eq", "y")}, False),
    ],
)
def test_search_conditions(condition: str, children: dict[str, Any], expected: bool) -> None:
    criteria = crit("trigger.items", "search", children, condition=condition)
    result = evaluate_criteria(criteria, ITEMS)
    assert result.matched is expected, result.reason
    assert result.error is None


def test_search_wraps_a_dict_into_a_list() -> None:
    criteria = crit("trigger.one", "search", {"item.a": child("eq", 1)}, condition="all")
    assert evaluate_criteria(criteria, {"one": {"a": 1}}).matched


def test_search_on_empty_list() -> None:
    children = {"item.a": child("eq", 1)}
    payload: dict[str, Any] = {"items": []}
    assert not evaluate_criteria(
        crit("trigger.items", "search", children, condition="any"), payload
    ).matched
    everything = crit("trigger.items", "search", children, condition="all")
    assert evaluate_criteria(everything, payload).matched


@pytest.mark.parametrize("value", [None, "abc", 5])
def test_search_needs_a_list(value: Any) -> None:
    criteria = crit("trigger.v", "search", {"item.a": child("eq", 1)}, condition="any")
    result = evaluate_criteria(criteria, {"v": value, "other": 1})
    assert not result.matched
    assert result.error is None


def test_search_child_templates_see_the_item() -> None:
    children = {"item.b": child("equals", "{{ item.b }}")}
    criteria = crit("trigger.items", "search", children, condition="all")
    assert evaluate_criteria(criteria, ITEMS).matched


@pytest.mark.parametrize("condition", [None, "some", "ANY"])
def test_search_bad_condition_is_broken(condition: Any) -> None:
    children = {"item.a": child("eq", 1)}
    result = evaluate_criteria(
        crit("trigger.items", "search", children, condition=condition), ITEMS
    )
    assert not result.matched
    assert result.error is not None and result.error.startswith("trigger.items: search condition")


def test_search_child_error_is_reported() -> None:
    children = {"item.a": child("equalz", 1)}
    result = evaluate_criteria(crit("trigger.items", "search", children, condition="any"), ITEMS)
    assert not result.matched
    assert result.error is not None
    assert result.error.startswith("trigger.items: item.a: unknown criteria operator 'equalz'")


def test_search_pattern_must_be_a_mapping() -> None:
    result = evaluate_criteria(crit("trigger.items", "search", "x", condition="any"), ITEMS)
    assert result.error is not None and "search pattern" in result.error


# --- broken criteria never raise ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criteria", "error_part"),
    [
        (crit("trigger.int", "equal", 5), "unknown criteria operator 'equal'; did you mean equals"),
        ({"trigger.int": {"pattern": 5}}, "needs a 'type'"),
        ({"trigger.int": {"type": 5}}, "needs a 'type'"),
        ({"trigger.int": "equals"}, "needs a 'type'"),
        (crit("trigger.body.ref", "regex", "(unclosed"), "regex: missing )"),
        (crit("trigger.body.ref", "iregex", "[z-a]"), "bad character range"),
        (crit("trigger.int", "equals", "{{ trigger.int "), "pattern failed to render"),
        (crit("trigger.int", "equals", "{{ trigger.nope }}"), "pattern failed to render"),
        (crit("trigger.int", "equals", "{{ nothing }}"), "pattern failed to render"),
        (crit("trigger.int", "equals", "{{ ''.__class__.__mro__ }}"), "pattern failed to render"),
        (crit("trigger..int", "equals", 5), "invalid criteria key"),
    ],
)
def test_broken_criterion(criteria: dict[str, Any], error_part: str) -> None:
    result = evaluate_criteria(criteria, PUSH)
    (key,) = criteria
    assert not result.matched
    assert result.failed_key == key
    assert result.error is not None
    assert result.error.startswith(f"{key}: ")
    assert error_part in result.error
    assert result.details[-1].error == result.error


@pytest.mark.timeout(5)
def test_redos_payload_does_not_hang() -> None:
    payload = {"text": "a" * 100_000 + "b"}
    assert not evaluate_criteria(crit("trigger.text", "regex", "(a+)+$"), payload).matched
    refused = evaluate_criteria(crit("trigger.text", "regex", r"(?=a)(a+)+$"), payload)
    assert not refused.matched
    assert refused.error is not None and "catastrophic" in refused.error


def test_non_string_key_and_non_mapping_criteria_do_not_raise() -> None:
    bad_key: Any = {5: child("equals", 5)}
    result = evaluate_criteria(bad_key, PUSH)
    assert result.error == "5: criteria keys must be strings"
    not_a_mapping: Any = ["trigger.int"]
    assert evaluate_criteria(not_a_mapping, PUSH).error is not None


def test_reason_is_truncated_for_huge_values() -> None:
    result = evaluate_criteria(crit("trigger.big", "equals", "x"), {"big": "y" * 10_000})
    assert result.reason is not None and len(result.reason) < 300

"""st2 criteria operators (st2-format §4.3): the doc's cases, aliases, regex safety, properties."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.rules.operators import (
    OPERATOR_NAMES,
    OPERATORS,
    ClockRequiredError,
    RegexRefusedError,
    UnknownOperatorError,
    canonical_name,
    get_operator,
    regex_matcher,
)

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)

# (operator, value, pattern, expected) — §4.3 row by row, then the pattern=None column.
CASES: list[tuple[str, Any, Any, bool]] = [
    ("equals", "st2", "st2", True),
    ("equals", "1", 1, False),  # no type coercion
    ("equals", True, "True", False),
    ("equals", 1, 1, True),
    ("equals", {"a": [1]}, {"a": [1]}, True),
    ("eq", "x", "x", True),
    ("equals", None, None, False),
    ("nequals", "a", "b", True),
    ("nequals", "a", "a", False),
    ("nequals", "1", 1, True),
    ("nequals", None, None, False),
    ("nequals", "a", None, True),
    ("neq", 1, 2, True),
    ("iequals", "StackStorm", "stackstorm", True),
    ("iequals", "a", "b", False),
    ("ieq", "ABC", "abc", True),
    ("iequals", "a", None, False),
    ("contains", "hello world", "lo w", True),
    ("contains", ["a", "b"], "b", True),
    ("contains", {"key": 1}, "key", True),
    ("contains", "abc", "z", False),
    ("contains", "abc", None, False),
    ("ncontains", "abc", "z", True),
    ("ncontains", ["a"], "a", False),
    ("ncontains", "abc", None, False),
    ("icontains", "Hello World", "WORLD", True),
    ("icontains", "abc", "Z", False),
    ("icontains", "abc", None, False),
    ("incontains", "Hello", "XYZ", True),
    ("incontains", "Hello", "HELL", False),
    ("incontains", "abc", None, False),
    ("startswith", "refs/heads/main", "refs/", True),
    ("startswith", "refs/heads/main", "REFS/", False),
    ("startswith", "abc", None, False),
    ("istartswith", "refs/heads/main", "REFS/", True),
    ("istartswith", "abc", None, False),
    ("endswith", "file.tar.gz", ".gz", True),
    ("endswith", "file.tar.gz", ".GZ", False),
    ("endswith", "abc", None, False),
    ("iendswith", "file.tar.gz", ".GZ", True),
    ("iendswith", "abc", None, False),
    ("lessthan", 1, 2, True),
    ("lessthan", 2, 1, False),
    ("lt", "a", "b", True),  # Python ordering, strings too
    ("lessthan", 1, None, False),
    ("greaterthan", 3, 2, True),
    ("gt", 2, 3, False),
    ("greaterthan", 1, None, False),
    ("matchwildcard", "foo.bar", "foo.*", True),
    ("matchwildcard", "foo.bar", "f?o.b[a-z]r", True),
    ("matchwildcard", "xfoo.bar", "foo*", False),  # whole string
    ("matchwildcard", "FOO", "foo", False),  # case-sensitive on Linux
    ("matchwildcard", "abc", None, False),
    ("regex", "refs/heads/main", "heads/(main|master)", True),  # anywhere
    ("regex", "refs/heads/dev", "^refs/heads/(main|master)$", False),
    ("regex", "ABC", "abc", False),
    ("regex", "abc", None, False),
    ("iregex", "ABC", "b", True),
    ("iregex", "abc", None, False),
    ("matchregex", "abc", "b", False),  # anchored at the start
    ("matchregex", "abc", "a", True),
    ("matchregex", "a\nb", "a.b", True),  # DOTALL
    ("matchregex", "abc", None, False),
    ("exists", "x", None, True),
    ("exists", False, None, True),
    ("exists", 0, None, True),
    ("exists", "", None, True),
    ("exists", None, None, False),
    ("nexists", None, None, True),
    ("nexists", 0, None, False),
    ("inside", "b", ["a", "b"], True),
    ("inside", "ell", "hello", True),
    ("in", "z", ["a"], False),
    ("inside", "a", None, False),
    ("ninside", "z", ["a"], True),
    ("nin", "a", ["a"], False),
    ("ninside", "a", None, False),
]


@pytest.mark.parametrize(("name", "value", "pattern", "expected"), CASES)
def test_operator_cases(name: str, value: Any, pattern: Any, expected: bool) -> None:
    assert get_operator(name)(value, pattern) is expected


@pytest.mark.parametrize(
    ("name", "value", "pattern"),
    [
        ("lessthan", 1, "a"),  # int vs str: TypeError, the evaluator turns it into False
        ("iequals", 1, "1"),
        ("contains", None, "a"),
        ("regex", 5, "5"),
        ("timediff_lt", "not a date", 5),
    ],
)
def test_type_errors_propagate(name: str, value: Any, pattern: Any) -> None:
    with pytest.raises((TypeError, AttributeError, ValueError)):
        get_operator(name, now=NOW)(value, pattern)


def test_names_are_case_insensitive() -> None:
    assert get_operator("EQUALS")("a", "a")
    assert get_operator("IRegex")("ABC", "b")
    assert canonical_name("TD_GT") == "timediff_gt"


def test_bytes_are_decoded_first() -> None:
    assert get_operator("equals")(b"caf\xc3\xa9", "café")
    assert get_operator("contains")("hello", b"ell")
    assert get_operator("regex")(b"abc", "b")


def test_unknown_operator_names_close_matches() -> None:
    with pytest.raises(UnknownOperatorError, match=r"'equal'.*equals"):
        get_operator("equal")
    with pytest.raises(UnknownOperatorError, match=r"'frobnicate'$"):
        get_operator("frobnicate")


def test_registry_covers_every_name() -> None:
    expected = {
        "equals", "eq", "nequals", "neq", "iequals", "ieq", "contains", "ncontains",
        "icontains", "incontains", "startswith", "istartswith", "endswith", "iendswith",
        "lessthan", "lt", "greaterthan", "gt", "matchwildcard", "regex", "iregex",
        "matchregex", "timediff_lt", "td_lt", "timediff_gt", "td_gt", "exists", "nexists",
        "inside", "in", "ninside", "nin", "search",
    }  # fmt: skip
    assert expected == OPERATOR_NAMES
    assert all(callable(fn) for fn in OPERATORS.values())


def test_search_is_not_a_plain_operator() -> None:
    with pytest.raises(UnknownOperatorError, match="child criteria"):
        get_operator("search")


# --- timediff -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "age_seconds", "pattern", "expected"),
    [
        ("timediff_lt", 10, 60, True),
        ("timediff_lt", 120, 60, False),
        ("td_lt", 10, "60", True),  # float(pattern)
        ("timediff_gt", 120, 60, True),
        ("td_gt", 10, 60.0, False),
        ("timediff_lt", 10, None, False),
        ("timediff_gt", 10, None, False),
    ],
)
def test_timediff(name: str, age_seconds: int, pattern: Any, expected: bool) -> None:
    value = (NOW - timedelta(seconds=age_seconds)).isoformat()
    assert get_operator(name, now=NOW)(value, pattern) is expected


def test_timediff_naive_timestamps_are_utc() -> None:
    value = (NOW - timedelta(seconds=30)).replace(tzinfo=None).isoformat()
    assert get_operator("timediff_lt", now=NOW)(value, 31)
    assert not get_operator("timediff_lt", now=NOW)(value, 29)


def test_timediff_needs_now() -> None:
    with pytest.raises(ClockRequiredError):
        get_operator("timediff_lt")


# --- regex safety (security.md §4.6) ------------------------------------------------------------


@pytest.mark.timeout(5)
def test_redos_pattern_runs_in_linear_time() -> None:
    evil = "a" * 100_000 + "b"
    assert get_operator("regex")(evil, "(a+)+$") is False
    assert get_operator("iregex")(evil, "(A+)+$") is False
    assert get_operator("matchregex")(evil, "(a|aa)+$") is False


def test_backreference_falls_back_to_re() -> None:
    assert get_operator("regex")("hello hello", r"(\w+) \1")
    assert not get_operator("regex")("hello world", r"(\w+) \1")
    assert get_operator("iregex")("FOO-bar", r"(?<=foo)-B")


@pytest.mark.timeout(5)
def test_fallback_refuses_nested_repeats() -> None:
    with pytest.raises(RegexRefusedError, match="catastrophic"):
        get_operator("regex")("a" * 30 + "b", r"(?=a)(a+)+$")
    with pytest.raises(RegexRefusedError):
        get_operator("regex")("abab", r"(a)(?:b|\1)+")


@pytest.mark.timeout(5)
def test_fallback_caps_input_length() -> None:
    with pytest.raises(RegexRefusedError, match="limit"):
        get_operator("regex")("a" * 100_000, r"(a*)\1$")
    # Within the cap the bounded backtracking still completes.
    assert not get_operator("regex")("a" * 3000 + "b", r"(?<=x)a*c")


def test_invalid_regex_raises_re_error() -> None:
    with pytest.raises(re.error):
        regex_matcher("(", ignorecase=False, anchored=False)


def test_regex_pattern_must_be_text() -> None:
    with pytest.raises(TypeError):
        get_operator("regex")("abc", 5)


# --- properties ---------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@given(json_values)
def test_equals_is_reflexive_except_for_none(value: Any) -> None:
    # st2: a None pattern never equals anything, itself included.
    assert get_operator("equals")(value, value) is (value is not None)


@given(json_values, json_values)
def test_nequals_negates_equals(value: Any, pattern: Any) -> None:
    if pattern is not None:
        assert get_operator("nequals")(value, pattern) is not get_operator("equals")(value, pattern)


@given(st.text(max_size=50), st.text(max_size=5))
def test_icontains_and_incontains_are_complements(value: str, pattern: str) -> None:
    assert get_operator("icontains")(value, pattern) is not get_operator("incontains")(
        value, pattern
    )

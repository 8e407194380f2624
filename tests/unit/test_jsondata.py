"""JSON from outside: only numbers a store can keep (used by webhook and API bodies)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.webhooks import jsondata


@pytest.mark.parametrize("text", ['{"a": 1e310}', "[-1e400]", "[NaN]", "[Infinity]", "[-Infinity]"])
def test_non_finite_numbers_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        jsondata.loads(text)


def test_ordinary_json_reads_as_json_does() -> None:
    assert jsondata.loads(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}


# --- orjson reads first; the result and every refusal must stay the standard library's ---------


def standard(text: str | bytes) -> object:
    """The reader jsondata had before orjson: the reference."""
    return json.loads(text, parse_float=jsondata._finite, parse_constant=jsondata._refuse_constant)


def outcome(read: Callable[[str | bytes], object], text: str | bytes) -> tuple[str, object]:
    try:
        value = read(text)
    except (ValueError, RecursionError) as error:
        return type(error).__name__, str(error)
    # repr: 1 and 1.0 (or True) compare equal, and a big integer read as a float would too.
    return "ok", repr(value)


@pytest.mark.parametrize(
    "text",
    [
        "[-9223372036854775809, 9223372036854775808, 18446744073709551616]",
        '{"id": 123456789012345678901234567890, "f": 1234567890123456789.5}',
        '["\\ud800"]',  # a lone surrogate: read here, refused by the webhook route
        '["\\ud83d\\ude00", "é", "\\u0000"]',
        b'["\\udfff"]',
        "\ufeff{}",  # a BOM: refused in text, as json.loads refuses it
        b"\xef\xbb\xbf{}",  # ...and read in bytes, as json.loads reads it
        '{"a": 1}'.encode("utf-16"),  # json.loads detects UTF-16/32 in bytes; orjson does not
        "[" * 600 + "]" * 600,
        "[" * 1010 + "]" * 1010,  # orjson reads 1024 levels, json.loads stops sooner
        "[" * 5000 + "]" * 5000,
        "[1e400]",
        "[1.5e308, 5e-324, 1e-400, -0.0]",
        '{"a": 1, "a": 2}',
        "[1,]",
        "",
        "[01]",
    ],
)
def test_reads_exactly_as_the_standard_library(text: str | bytes) -> None:
    assert outcome(jsondata.loads, text) == outcome(standard, text)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES, st.booleans(), st.booleans())
def test_any_json_reads_as_the_standard_library(value: object, ascii_: bool, raw: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_)
    data: str | bytes = text.encode("utf-8", "surrogatepass") if raw else text
    assert outcome(jsondata.loads, data) == outcome(standard, data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=100))
def test_any_text_reads_or_fails_as_the_standard_library(data: str | bytes) -> None:
    assert outcome(jsondata.loads, data) == outcome(standard, data)

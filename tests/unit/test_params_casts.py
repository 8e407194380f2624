"""cast_value (st2 util/casts.py, §2.3 step 4) and parse_cli_value (st2client transformers)."""

from __future__ import annotations

from typing import Any

import pytest

from core.params import ParameterError, cast_value, parse_cli_value
from core.params.casts import MAX_LITERAL_CHARS
from core.templates.render import NONE_MAGIC_VALUE


@pytest.mark.parametrize(
    ("type_", "value", "expected"),
    [
        ("integer", "42", 42),
        ("integer", 42, 42),
        ("integer", 4.9, 4),
        ("number", "2.5", 2.5),
        ("number", "3", 3.0),
        ("number", 3, 3.0),
        ("boolean", "true", True),
        ("boolean", "false", False),
        ("boolean", "True", True),
        ("boolean", "FALSE", False),
        ("boolean", True, True),
        ("boolean", "1", 1),  # like st2: literal_eval, so the schema check rejects it later
        ("array", "[1, 2]", [1, 2]),
        ("array", "['a', 'b']", ["a", "b"]),
        ("array", "(1, 2)", (1, 2)),
        ("array", ["x"], ["x"]),
        ("object", '{"a": 1}', {"a": 1}),
        ("object", "{'a': True, 'b': None}", {"a": True, "b": None}),
        ("object", {"a": 1}, {"a": 1}),
        ("string", "text", "text"),
        ("string", "", ""),
        ("null", "anything", "anything"),
        (None, 5, 5),
        (["string", "integer"], 5, 5),
    ],
)
def test_cast_value(type_: Any, value: Any, expected: Any) -> None:
    result = cast_value({"type": type_} if type_ is not None else {}, value)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize("type_", ["string", "integer", "number", "boolean", "array", "object"])
def test_none_and_magic_none(type_: str) -> None:
    assert cast_value({"type": type_}, None) is None
    assert cast_value({"type": type_}, NONE_MAGIC_VALUE) is None


def test_no_schema() -> None:
    assert cast_value(None, "x") == "x"


@pytest.mark.parametrize(
    ("type_", "value", "message"),
    [
        ("integer", "abc", "invalid literal for int()"),
        ("integer", "3.5", "invalid literal"),
        ("number", "x", "could not convert"),
        ("boolean", "yes", "malformed"),
        ("boolean", "tru e", "malformed"),
        ("object", "{not json", "malformed"),
        ("array", "__import__('os')", "malformed"),
        ("string", 5, 'Value "5" must either be a string or None. Got "int".'),
        ("string", ["a"], 'Got "list"'),
        ("integer", [1], "int()"),
        ("array", "[" * 5000, "malformed"),
    ],
)
def test_cast_errors(type_: str, value: Any, message: str) -> None:
    with pytest.raises(ParameterError, match=f"cannot cast to {type_}") as info:
        cast_value({"type": type_}, value)
    assert message in str(info.value)


def test_literal_eval_input_is_bounded() -> None:
    with pytest.raises(ParameterError, match="over"):
        cast_value({"type": "object"}, "{'a': " + " " * MAX_LITERAL_CHARS + "1}")


@pytest.mark.parametrize(
    ("schema", "text", "expected"),
    [
        ({"type": "integer"}, "5", 5),
        ({"type": "number"}, "1.5", 1.5),
        ({"type": "boolean"}, "true", True),
        ({"type": "boolean"}, "False", False),
        ({"type": "array"}, "a, b,c", ["a", "b", "c"]),
        ({"type": "array"}, "51", [51]),
        ({"type": "array"}, '["x", 1]', ["x", 1]),
        ({"type": "array"}, '"solo"', ['"solo"']),
        ({"type": "object"}, '{"a": [1]}', {"a": [1]}),
        ({"type": "object"}, "a=1,b=x=y,junk", {"a": "1", "b": "x=y"}),
        ({"type": "string"}, "  spaced  ", "  spaced  "),
        ({"type": "string"}, "{{ 7*7 }}", "{{ 7*7 }}"),
        ({}, "untyped", "untyped"),
        (None, "unknown name", "unknown name"),
    ],
)
def test_parse_cli_value(schema: Any, text: str, expected: Any) -> None:
    assert parse_cli_value(schema, text) == expected


@pytest.mark.parametrize(
    ("type_", "text"),
    [
        ("integer", "x"),
        ("number", "y"),
        ("boolean", "maybe"),
        ("object", "{bad"),
        ("object", "{" * 100000),
    ],
)
def test_parse_cli_value_errors(type_: str, text: str) -> None:
    with pytest.raises(ParameterError) as info:
        parse_cli_value({"type": type_}, text)
    assert str(info.value).startswith(f"cannot parse {text[:20]!r}"[:-1])
    assert f"as {type_}: " in str(info.value)
    assert len(str(info.value)) < 300

"""Structural checks with JSON Schema, reported as short messages at YAML paths.

jsonschema's own messages quote whole instances and schemas; pack authors need "what is wrong
here", so the common validators get their own wording.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError, best_match

from core.packs.errors import FileProblems, YamlPath

_TYPE_NAMES = {
    "array": "an array",
    "boolean": "a boolean",
    "integer": "an integer",
    "null": "null",
    "number": "a number",
    "object": "an object",
    "string": "a string",
}


def describe(value: object) -> str:
    """How a YAML value reads in a message: ``integer 5``, ``string 'yes'``, ``object``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {value}"
    if isinstance(value, int | float):
        return f"{'integer' if isinstance(value, int) else 'number'} {value}"
    if isinstance(value, str):
        return f"string {value!r}"
    return "an array" if isinstance(value, list) else "an object"


def validator_for(schema: Mapping[str, Any]) -> Draft4Validator:
    return Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)


def check(
    validator: Draft4Validator, instance: object, problems: FileProblems, base: YamlPath = ()
) -> int:
    """Report every schema violation of ``instance``; returns how many were found."""
    before = problems.count
    for path, message in schema_problems(validator, instance):
        problems.add((*base, *path), message)
    return problems.count - before


def schema_problems(validator: Draft4Validator, instance: object) -> Iterator[tuple[YamlPath, str]]:
    for error in validator.iter_errors(instance):
        yield from _translate(error)


def _translate(error: ValidationError) -> Iterator[tuple[YamlPath, str]]:
    path = _path(error)
    kind = error.validator
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        for key in _extra_keys(error.instance, error.schema):
            yield (*path, str(key)), _unknown_key_message(key, error.schema)
    elif kind == "type":
        expected = _expected_types(error.validator_value)
        yield path, f"expected {expected}, got {describe(error.instance)}"
    elif kind == "enum":
        options = ", ".join(repr(v) for v in error.validator_value)
        yield path, f"expected one of {options}; got {describe(error.instance)}"
    elif kind == "format" and error.validator_value == "regex":
        yield path, f"invalid regular expression {error.instance!r}"
    elif kind in ("anyOf", "oneOf") and error.context:
        yield from _translate_alternatives(error)
    else:
        yield path, error.message


def _translate_alternatives(error: ValidationError) -> Iterator[tuple[YamlPath, str]]:
    # The deepest failure is inside the branch the author meant (``items: {type: nope}`` is a
    # schema with a bad type, not a failed array); failures of ``type`` alone merge into one.
    deepest = max(error.context, key=lambda e: len(e.absolute_path))
    if len(deepest.absolute_path) > len(error.absolute_path):
        yield from _translate(deepest)
    elif all(e.validator == "type" for e in error.context):
        types = [e.validator_value for e in error.context]
        yield _path(error), f"expected {_expected_types(types)}, got {describe(error.instance)}"
    else:
        yield from _translate(best_match(error.context))


def _path(error: ValidationError) -> YamlPath:
    return tuple(part if isinstance(part, int) else str(part) for part in error.absolute_path)


def _expected_types(types: object) -> str:
    names = [types] if isinstance(types, str) else list(types) if isinstance(types, list) else []
    return " or ".join(_TYPE_NAMES.get(str(name), str(name)) for name in names)


def _extra_keys(instance: Mapping[Any, Any], schema: Mapping[str, Any]) -> list[Any]:
    known = schema.get("properties", {})
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    return [
        key
        for key in instance
        if key not in known and not any(p.search(str(key)) for p in patterns)
    ]


def _unknown_key_message(key: object, schema: Mapping[str, Any]) -> str:
    known = sorted(schema.get("properties", {}))
    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; allowed keys: {', '.join(known)}"
    return f"unknown key{hint}"

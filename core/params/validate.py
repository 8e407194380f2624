"""JSON-schema validation of resolved values (draft 4 plus st2's boolean ``required``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError, ValidationError, best_match

from core.params.errors import ParameterError

# jsonschema messages quote the value; cap them so a huge value cannot flood chat or logs.
_MAX_MESSAGE = 500
# Built validators by the schema's repr (schemas come from YAML: dicts, lists and scalars, whose
# reprs are equal exactly when they are). Building one costs ~40 µs, using one ~4 µs, and every
# request validates each of its parameters. Cleared whole when full: a bound, not an LRU.
_VALIDATORS: dict[str, jsonschema.Draft4Validator] = {}
_MAX_VALIDATORS = 4096


_SCHEMA_KEYS = frozenset({"items", "additionalProperties", "additionalItems", "not"})
_SCHEMA_LIST_KEYS = frozenset({"items", "allOf", "anyOf", "oneOf"})
_SCHEMA_MAP_KEYS = frozenset({"properties", "patternProperties", "definitions"})


def _convert(key: str, value: Any) -> Any:
    if key in _SCHEMA_LIST_KEYS and isinstance(value, list):
        return [to_draft4(v) for v in value]
    if key in _SCHEMA_KEYS:
        return to_draft4(value)
    if key in _SCHEMA_MAP_KEYS and isinstance(value, Mapping):
        return {k: to_draft4(v) for k, v in value.items()}
    return value


def to_draft4(schema: Any) -> Any:
    """Lift st2's ``required: true`` on properties into draft 4's ``required`` list.

    Draft 4 would iterate a boolean ``required`` (TypeError) on object values. Only subschema
    keywords are walked, so ``enum``/``default`` data is left alone.
    """
    if not isinstance(schema, Mapping):
        return schema
    out = {k: _convert(k, v) for k, v in schema.items() if k != "required"}
    required = schema.get("required")
    names = list(required) if isinstance(required, list) else []
    props = schema.get("properties")
    if isinstance(props, Mapping):
        names += [
            k for k, v in props.items() if isinstance(v, Mapping) and v.get("required") is True
        ]
    if names:
        out["required"] = list(dict.fromkeys(names))
    return out


def _shorten(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


def check_required(schema: Mapping[str, Mapping[str, Any]], values: Mapping[str, Any]) -> None:
    for name, param in schema.items():
        if param.get("required") is True and values.get(name) is None:
            raise ParameterError(f"{name!r} is a required property", param=name)


def validate_value(name: str, schema: Mapping[str, Any], value: Any) -> None:
    """Validate one parameter; a secret parameter's value never appears in the message."""
    try:
        error = best_match(_validator(schema).iter_errors(value))
    except (SchemaError, jsonschema.exceptions.UnknownType) as exc:
        raise ParameterError(f'Invalid schema for parameter "{name}": {exc}', param=name) from exc
    if error is None:
        return
    raise ParameterError(_describe(name, schema, error), param=name)


def _validator(schema: Mapping[str, Any]) -> jsonschema.Draft4Validator:
    key = repr(schema)
    validator = _VALIDATORS.get(key)
    if validator is None:
        validator = jsonschema.Draft4Validator(to_draft4(schema))
        if len(_VALIDATORS) >= _MAX_VALIDATORS:
            _VALIDATORS.clear()
        _VALIDATORS[key] = validator
    return validator


def _describe(name: str, schema: Mapping[str, Any], error: ValidationError) -> str:
    where = "".join(f"[{p!r}]" for p in error.absolute_path)
    if schema.get("secret") is True:
        return f'Invalid value for parameter "{name}{where}": failed "{error.validator}" check'
    return _shorten(f'Invalid value for parameter "{name}{where}": {error.message}')

"""Parameter schemas of actions (and pack config schemas): st2-format §2.2.

A parameter schema is JSON Schema draft 4 plus st2's ``required``/``immutable``/``secret``/
``position`` keywords, with unknown keywords rejected (st2 does the same, so a typo such as
``requried`` cannot silently drop a check).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from core.models import Action, RunnerType
from core.packs import schemacheck
from core.packs.errors import FileProblems, YamlPath
from core.params import OVERRIDABLE_ATTRS, ParameterError, merge_parameter_schemas

SIMPLE_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")
PARAM_NAME = re.compile(r"\w+")

_SELF = {"$ref": "#"}
_SCHEMAS = {"type": "array", "minItems": 1, "items": _SELF}
_SCHEMA_MAP = {"type": "object", "additionalProperties": _SELF}
_COUNT = {"type": "integer", "minimum": 0}
_BOOL = {"type": "boolean"}
_NUMBER = {"type": "number"}
_STRING = {"type": "string"}

PARAM_META_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": _STRING,
        "description": _STRING,
        "default": {},
        "type": {"enum": list(SIMPLE_TYPES)},
        "required": _BOOL,
        "immutable": _BOOL,
        "secret": _BOOL,
        "position": {"type": "integer", "minimum": 0},
        # Squall: chat values with control characters (newlines too) are refused unless true.
        "allow_control_characters": _BOOL,
        "enum": {"type": "array", "minItems": 1},
        "format": _STRING,
        "pattern": {"type": "string", "format": "regex"},
        "multipleOf": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
        "minimum": _NUMBER,
        "maximum": _NUMBER,
        "exclusiveMinimum": _BOOL,
        "exclusiveMaximum": _BOOL,
        "minLength": _COUNT,
        "maxLength": _COUNT,
        "minItems": _COUNT,
        "maxItems": _COUNT,
        "minProperties": _COUNT,
        "maxProperties": _COUNT,
        "uniqueItems": _BOOL,
        "items": {"anyOf": [_SELF, _SCHEMAS]},
        "additionalItems": {"anyOf": [_BOOL, _SELF]},
        "properties": _SCHEMA_MAP,
        "patternProperties": _SCHEMA_MAP,
        "additionalProperties": {"anyOf": [_BOOL, _SELF]},
        "definitions": _SCHEMA_MAP,
        "dependencies": {"type": "object"},
        "allOf": _SCHEMAS,
        "anyOf": _SCHEMAS,
        "oneOf": _SCHEMAS,
        "not": _SELF,
        "id": _STRING,
        "$schema": _STRING,
    },
    "additionalProperties": False,
}
_META = schemacheck.validator_for(PARAM_META_SCHEMA)


def check_schema_map(schemas: object, problems: FileProblems, base: YamlPath) -> bool:
    """Check a mapping of name → parameter schema; True when every entry is valid."""
    if not isinstance(schemas, dict):
        return False  # the caller's structural check reports the type
    before = problems.count
    for name, schema in schemas.items():
        path = (*base, str(name))
        _check_name(name, path, problems)
        if isinstance(schema, dict):
            schemacheck.check(_META, schema, problems, path)
        else:
            problems.add(path, f"expected an object (a parameter schema), got {_what(schema)}")
    return problems.count == before


def check_positions(params: Mapping[str, Any], problems: FileProblems) -> None:
    """Positions must be unique and without gaps, as st2 requires for script arguments."""
    taken: dict[int, str] = {}
    for name, schema in params.items():
        position = schema.get("position") if isinstance(schema, dict) else None
        if not isinstance(position, int) or isinstance(position, bool):
            continue  # absent, or a type error reported by the meta-schema
        if position in taken:
            problems.add(
                ("parameters", str(name), "position"),
                f"position {position} is already used by parameter {taken[position]!r}",
            )
        else:
            taken[position] = str(name)
    ordered = sorted(taken)
    if ordered and ordered != list(range(ordered[0], ordered[-1] + 1)):
        problems.add(("parameters",), f"positions {ordered} are not contiguous")


def check_immutables(params: Mapping[str, Any], runner: RunnerType, problems: FileProblems) -> None:
    """An immutable action parameter can never be supplied, so it needs a default (st2 rule)."""
    for name, schema in params.items():
        if not isinstance(schema, dict) or schema.get("immutable") is not True:
            continue
        runner_meta = runner.parameters.get(name)
        if runner_meta is not None and runner_meta.get("immutable"):
            problems.add(
                ("parameters", str(name), "immutable"),
                "the runner already declares this parameter immutable; it cannot be overridden",
            )
        elif runner_meta is None and "default" not in schema:
            problems.add(("parameters", str(name)), "an immutable parameter needs a default")


def check_overrides(action: Action, runner: RunnerType, problems: FileProblems) -> None:
    """Ask the parameter pipeline about each overridden attribute, so every error is reported."""
    for name, schema in action.parameters.items():
        if name not in runner.parameters or not isinstance(schema, dict):
            continue
        for attr, value in schema.items():
            probe = replace(action, parameters={name: {attr: value}})
            try:
                merge_parameter_schemas(runner, probe)
            except ParameterError as exc:
                allowed = ", ".join(sorted(OVERRIDABLE_ATTRS))
                problems.add(
                    ("parameters", name, str(attr)),
                    f"{exc} An action may only change {allowed} of a runner parameter.",
                )


def _check_name(name: object, path: YamlPath, problems: FileProblems) -> None:
    if isinstance(name, str) and PARAM_NAME.fullmatch(name):
        return
    if isinstance(name, str):
        problems.add(path, "invalid name: use letters, digits and _ only")
    else:
        # YAML 1.1 reads unquoted on/off/yes/no as booleans and digits as numbers.
        problems.add(path, f"invalid name: YAML read this key as {_what(name)}; quote it")


def _what(value: object) -> str:
    return schemacheck.describe(value)

"""Forms generated from schemas (pure): an action's parameters or an inquiry's JSON schema
become fields; a posted form becomes typed values, with errors naming the field."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TEXT_TYPES = ("string", "")
JSON_TYPES = ("array", "object")


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    required: bool = False
    secret: bool = False
    description: str = ""
    default: Any = None
    enum: tuple[Any, ...] = ()

    @property
    def input(self) -> str:
        """How the page asks: select, checkbox-like select, number, textarea, password, text."""
        if self.enum:
            return "select"
        if self.type == "boolean":
            return "boolean"
        if self.type in ("integer", "number"):
            return "number"
        if self.type in JSON_TYPES:
            return "json"
        return "password" if self.secret else "text"

    @property
    def shown_default(self) -> str:
        if self.default is None or self.secret:
            return ""
        if self.type in JSON_TYPES:
            return json.dumps(self.default)
        return str(self.default).lower() if isinstance(self.default, bool) else str(self.default)


class FormError(ValueError):
    pass


def _type_of(meta: Mapping[str, Any]) -> str:
    kind = meta.get("type", "")
    if isinstance(kind, list):  # ["string", "null"]: the first real type
        kind = next((k for k in kind if k != "null"), "")
    return str(kind)


def action_fields(schema: Mapping[str, Mapping[str, Any]]) -> list[Field]:
    """An action's merged parameter schema (st2 style: ``required``/``secret`` per parameter);
    immutable parameters are not asked. Required first, then by name."""
    fields = [
        Field(
            name=name,
            type=_type_of(meta),
            required=bool(meta.get("required")),
            secret=bool(meta.get("secret")),
            description=str(meta.get("description") or ""),
            default=meta.get("default"),
            enum=tuple(meta.get("enum") or ()),
        )
        for name, meta in schema.items()
        if isinstance(meta, Mapping) and not meta.get("immutable")
    ]
    return sorted(fields, key=lambda f: (not f.required, f.name))


def json_schema_fields(schema: Mapping[str, Any]) -> list[Field]:
    """A JSON schema object's top-level properties (an inquiry's response)."""
    required = schema.get("required") if isinstance(schema.get("required"), list) else []
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return []
    return [
        Field(
            name=name,
            type=_type_of(meta),
            required=name in (required or ()),
            secret=bool(meta.get("secret")),
            description=str(meta.get("description") or ""),
            default=meta.get("default"),
            enum=tuple(meta.get("enum") or ()),
        )
        for name, meta in properties.items()
        if isinstance(meta, Mapping)
    ]


def parse(fields: list[Field], form: Mapping[str, str]) -> dict[str, Any]:
    """Typed values of the filled-in fields; a field left empty is left out (its default
    applies), a required one left empty is an error."""
    values: dict[str, Any] = {}
    for field in fields:
        text = form.get(f"p.{field.name}", "")
        if text == "":
            if field.required and field.default is None:
                raise FormError(f"{field.name}: required")
            continue
        values[field.name] = _value(field, text)
    return values


def _value(field: Field, text: str) -> Any:
    if field.enum:
        for choice in field.enum:
            if str(choice) == text:
                return choice
        raise FormError(f"{field.name}: not one of the choices")
    if field.type == "boolean":
        if text not in ("true", "false"):
            raise FormError(f"{field.name}: expected true or false")
        return text == "true"
    if field.type in ("integer", "number"):
        try:
            return int(text) if field.type == "integer" else float(text)
        except ValueError:
            article = "an" if field.type == "integer" else "a"
            raise FormError(
                f"{field.name}: expected {article} {field.type}, got {text[:40]!r}"
            ) from None
    if field.type in JSON_TYPES:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as bad:
            raise FormError(f"{field.name}: invalid JSON ({bad.msg})") from None
        expected = list if field.type == "array" else dict
        if not isinstance(value, expected):
            raise FormError(f"{field.name}: expected a JSON {field.type}")
        return value
    return text

"""Masking ``secret: true`` parameters (security.md §1.3) and listing values to scrub."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from core.models import MASK, ParamSchema


def _is_secret(schema: Any) -> bool:
    return isinstance(schema, Mapping) and schema.get("secret") is True


def _mask(schema: Any, value: Any) -> Any:
    """Mask ``value`` if its schema is secret, else recurse into declared sub-schemas."""
    if _is_secret(schema):
        return MASK
    if not isinstance(schema, Mapping):
        return value
    if isinstance(value, Mapping):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        return {k: _mask(props.get(k, extra), v) for k, v in value.items()}
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        return [_mask(schema["items"], v) for v in value]
    return value


def mask_secrets(schema: Mapping[str, ParamSchema], params: Mapping[str, Any]) -> dict[str, Any]:
    """Copy of ``params`` with every secret value (a whole parameter or nested property)
    replaced by ``********``, like st2's API output."""
    return {name: _mask(schema.get(name), value) for name, value in params.items()}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def _secret_parts(schema: Any, value: Any) -> Iterator[str]:
    if _is_secret(schema):
        yield from _strings(value)
        return
    if not isinstance(schema, Mapping):
        return
    if isinstance(value, Mapping):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            yield from _secret_parts(props.get(key, extra), item)
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for item in value:
            yield from _secret_parts(schema["items"], item)


def secret_values(schema: Mapping[str, ParamSchema], params: Mapping[str, Any]) -> list[str]:
    """Distinct non-empty secret strings, longest first (scrub order for logs and output)."""
    found = {
        text
        for name, value in params.items()
        for text in _secret_parts(schema.get(name), value)
        if text
    }
    return sorted(found, key=lambda s: (-len(s), s))

"""JSON data in workflows: what a workflow can store and pass on, and yaql's values back to
plain Python. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["NOT_JSON", "not_json_kind", "plain", "storable"]

_JSON_SCALARS = (str, int, float, bool, type(None))


def not_json_kind(value: Any) -> str | None:
    """The type name of the first part of ``value`` that is not JSON data, or None."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _JSON_SCALARS):
            continue
        if isinstance(item, dict) and all(isinstance(k, str) for k in item):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            return type(item).__name__
    return None


NOT_JSON = (
    "The value is a {}, which is not JSON data and cannot be stored; convert it (e.g. to a list)."
)


def storable(expr: str, value: Any, error: type[Exception]) -> Any:
    """``value`` if it is JSON data (what a workflow can store and pass on), else ``error``
    naming ``expr``: a set from ``ctx(d).keys()`` would otherwise fail later, far from its
    cause."""
    kind = not_json_kind(value)
    if kind is not None:
        raise error(f"Unable to evaluate expression '{expr}'. " + NOT_JSON.format(kind))
    return value


def plain(value: Any) -> Any:
    """yaql's frozen dicts and tuples back to JSON-shaped Python."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value

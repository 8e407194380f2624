"""Casting rendered values to a parameter's declared type (st2 ``util/casts.py``, §2.3 step 4),
and typing ``k=v`` values typed on the command line (st2client's transformers)."""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from typing import Any

from core.models import ParamSchema
from core.params.errors import ParameterError
from core.templates.filters import NONE_MAGIC_VALUE

# literal_eval parses arbitrary Python literal syntax; keep its input (and memory) bounded.
MAX_LITERAL_CHARS = 1 << 20


def _literal_eval(text: str) -> Any:
    if len(text) > MAX_LITERAL_CHARS:
        raise ValueError(f"value is over {MAX_LITERAL_CHARS} characters")
    try:
        return ast.literal_eval(text)
    except (SyntaxError, MemoryError, RecursionError) as exc:
        raise ValueError(f"malformed literal: {exc}") from exc


def _cast_object(value: Any) -> Any:
    # JSON first; Python literal syntax too because a dict rendered by Jinja is its repr.
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        return _literal_eval(value)


def _cast_boolean(value: Any) -> Any:
    # "true"/"false" → True/False via capitalize, exactly like st2 (so "1" gives 1, not True).
    return _literal_eval(value.capitalize()) if isinstance(value, str) else value


def _cast_integer(value: Any) -> Any:
    return int(value)


def _cast_number(value: Any) -> Any:
    return float(value)


def _cast_string(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError(
            f'Value "{value}" must either be a string or None. Got "{type(value).__name__}".'
        )
    return value


CASTS: dict[str, Callable[[Any], Any]] = {
    "array": _cast_object,
    "object": _cast_object,
    "boolean": _cast_boolean,
    "integer": _cast_integer,
    "number": _cast_number,
    "string": _cast_string,
}


def cast_value(schema: ParamSchema | None, value: Any) -> Any:
    """Cast ``value`` to ``schema["type"]``; None and ``use_none``'s magic string become None.

    Types without a cast (``null``, a list of types, none given) leave the value unchanged.
    Raises ``ParameterError`` when the value cannot be cast.
    """
    if value is None or value == NONE_MAGIC_VALUE:
        return None
    declared = (schema or {}).get("type")
    cast = CASTS.get(declared) if isinstance(declared, str) else None
    if cast is None:
        return value
    try:
        return cast(value)
    except (ValueError, TypeError, OverflowError) as exc:
        raise ParameterError(f"cannot cast to {declared}: {exc}") from exc


def _cli_array(text: str) -> list[Any]:
    # A lone integer is a one-element list (st2client), then JSON, then a comma list.
    try:
        return [int(text)]
    except ValueError:
        pass
    try:
        parsed = json.loads(text)
    except (ValueError, RecursionError):
        parsed = None
    if isinstance(parsed, list):
        return parsed
    return [part.strip() for part in text.split(",")]


def _cli_object(text: str) -> dict[str, Any]:
    # JSON, or st2client's shorthand "k1=v1,k2=v2".
    if text.lstrip().startswith("{"):
        parsed: dict[str, Any] = json.loads(text)
        return parsed
    pairs = (part.split("=", 1) for part in text.split(","))
    return {pair[0].strip(): pair[1] for pair in pairs if len(pair) == 2}


_CLI_PARSERS: dict[str, Callable[[str], Any]] = {
    "array": _cli_array,
    "object": _cli_object,
    "boolean": _cast_boolean,
    "integer": int,
    "number": float,
}


def parse_params(schema: ParamSchema, pairs: list[str]) -> dict[str, Any]:
    """``NAME=VALUE`` words (``squall run``, chat's ``run``) → parameters typed by ``schema``."""
    params: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"parameter {pair!r}: expected NAME=VALUE")
        params[name] = parse_cli_value(schema.get(name, {}), text)
    return params


def parse_cli_value(schema: ParamSchema | None, text: str) -> Any:
    """Type the ``v`` of ``squall run REF k=v`` by the parameter's schema.

    Unknown parameters and strings stay text (the schema check reports unknown names later).
    """
    declared = (schema or {}).get("type")
    parser = _CLI_PARSERS.get(declared) if isinstance(declared, str) else None
    if parser is None:
        return text
    try:
        return parser(text)
    except (ValueError, TypeError, RecursionError) as exc:
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise ParameterError(f"cannot parse {shown!r} as {declared}: {exc}") from exc

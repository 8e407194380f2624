"""Script arguments from action parameters, exactly as st2 builds them (§2.4) — as argv, no shell.

st2 joins these tokens into a shell-quoted command line; Squall passes the same tokens as a
list to ``exec``, so no value is ever parsed by a shell.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from typing import Any

from core.models import ParamSchema


def build_script_argv(
    script: str, schema: Mapping[str, ParamSchema], params: Mapping[str, Any], kwarg_op: str
) -> list[str]:
    """``[script, named args..., positional args...]`` — named first, as st2 does."""
    positional = positional_names(schema)
    named = {name: value for name, value in params.items() if name not in positional}
    positional_args = [
        serialize_positional(schema[name].get("type"), params.get(name)) for name in positional
    ]
    return [script, *named_args(named, kwarg_op), *positional_args]


def build_cmd_argv(cmd: str, params: Mapping[str, Any], kwarg_op: str) -> list[str]:
    """A script action run "as command": the split ``cmd`` plus every parameter as a named arg."""
    return [*shlex.split(cmd), *named_args(params, kwarg_op)]


def positional_names(schema: Mapping[str, ParamSchema]) -> list[str]:
    """Names of parameters with a ``position``, in position order (a later duplicate wins)."""
    by_position: dict[int, str] = {}
    for name, meta in schema.items():
        position = meta.get("position")
        if position is not None:
            by_position[int(position)] = name
    return [by_position[p] for p in sorted(by_position)]


def named_args(params: Mapping[str, Any], kwarg_op: str) -> list[str]:
    """``<op><name>=<value>``; None and "" omitted; True is a bare flag, False omitted."""
    args: list[str] = []
    for name, value in params.items():
        if value is None or value == "" or value is False:
            continue
        if value is True:
            args.append(f"{kwarg_op}{name}")
        else:
            # str(), not JSON, for lists and dicts too: st2 does the same and scripts rely on it.
            args.append(f"{kwarg_op}{name}={value}")
    return args


def serialize_positional(param_type: Any, value: Any) -> str:
    """One positional argument, serialized by its declared type (st2 ``action_utils``)."""
    if param_type in ("string", "number", "float"):
        return "" if value is None else str(value)
    if param_type == "boolean":
        return "" if value is None else ("1" if value else "0")
    if param_type in ("array", "list"):
        return ",".join(str(item) for item in value) if value else ""
    if param_type == "object":
        return json.dumps(value, separators=(",", ":")) if value else ""
    if param_type == "null":
        return ""
    # Anything else, integer included: st2 turns falsy values (even 0) into "".
    return str(value) if value else ""

"""From an alias match to action parameters (st2 ``aliasexecution.py``, st2-format §6.1-6.2).

Extracted values are strings typed by a person in chat: they are cast, never rendered. Only the
pack-authored ``immutable_parameters`` are templates, rendered with ``st2kv`` and the execution
context (``action_alias_ref``, ``api_user``, ``user``, ``source_channel``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from core.aliases.matcher import AliasMatch
from core.models import Action, ParamSchema, RunnerType
from core.params import ParameterError, cast_value, merge_parameter_schemas
from core.params.context import KV_NAME, kv_context
from core.templates.render import TemplateError, render_value

__all__ = ["alias_parameters", "cast_alias_value", "check_control_characters"]

# C0 controls but tab, DEL and C1: terminal escapes, NUL, and newlines that split commands.
# C0/C1 controls (tab aside) and the bidi embeddings, overrides and isolates (U+202E shows
# "txt.exe" as "exe.txt": Trojan Source).
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
ALLOW_CONTROL = "allow_control_characters"


def alias_parameters(
    match: AliasMatch,
    action: Action,
    *,
    kv: Mapping[str, Any] | None,
    context: Mapping[str, Any],
    runner: RunnerType | None = None,
) -> dict[str, Any]:
    """Extracted values plus the alias's immutable parameters, cast to the action's types.

    ``context`` is the alias execution context (``action_alias_ref``, ``api_user``, ``user``,
    ``source_channel``). Unmatched optional groups (``None``) are left out so action defaults
    apply. Raises ``ParameterError`` when the user sets an immutable parameter or a value
    cannot be cast; the rest of the pipeline (render, validate) runs when the execution is
    requested.
    """
    supplied = {k: v for k, v in match.parameters.items() if v is not None}
    immutable = match.alias.immutable_parameters
    overridden = [name for name in immutable if name in supplied]
    if overridden:
        names = ", ".join(overridden)
        raise ParameterError(f"Immutable arguments cannot be overriden: {names}")
    values = {**supplied, **_render_immutable(match, kv, context)}
    schema = merge_parameter_schemas(runner, action) if runner else action.parameters
    return {name: cast_alias_value(name, schema.get(name), v) for name, v in values.items()}


def _render_immutable(
    match: AliasMatch, kv: Mapping[str, Any] | None, context: Mapping[str, Any]
) -> dict[str, Any]:
    render_context = {**context, KV_NAME: kv_context(kv)}
    rendered: dict[str, Any] = {}
    for name, value in match.alias.immutable_parameters.items():
        try:
            rendered[name] = render_value(value, render_context)
        except TemplateError as exc:
            where = f"alias {match.alias.ref}: immutable_parameters.{name}"
            raise ParameterError(f"{where}: {exc}", param=name) from exc
    return rendered


def cast_alias_value(name: str, schema: ParamSchema | None, value: Any) -> Any:
    """st2's alias casts: ``array`` splits a string on commas (stripping each item), every
    other type goes through the parameter pipeline's ``cast_value``."""
    try:
        if (schema or {}).get("type") == "array" and isinstance(value, str):
            return [item.strip() for item in value.split(",")]
        return cast_value(schema, value)
    except ParameterError as exc:
        raise ParameterError(f"parameter {name!r}: {exc}", param=name) from exc


def check_control_characters(schema: Mapping[str, ParamSchema], values: Mapping[str, Any]) -> None:
    """Refuse control characters (newlines included) in values typed in chat, unless the
    parameter declares ``allow_control_characters: true``. Raises ``ParameterError``."""
    for name, value in values.items():
        if (schema.get(name) or {}).get(ALLOW_CONTROL) is True:
            continue
        if any(_CONTROL.search(text) for text in _texts(value)):
            raise ParameterError(
                f"parameter {name!r}: control characters (such as newlines or bidi overrides) "
                "are not allowed",
                param=name,
            )


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [t for item in value.values() for t in _texts(item)]
    if isinstance(value, list | tuple):
        return [t for item in value for t in _texts(item)]
    return []

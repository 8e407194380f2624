"""Merging runner and action parameter schemas (st2-format §2.2)."""

from __future__ import annotations

from typing import Any

from core.models import Action, ParamSchema, RunnerType
from core.params.errors import ParameterError

# st2's RUNNER_PARAM_OVERRIDABLE_ATTRS: every other attribute of a runner parameter is part of
# the runner's contract, so an action may only repeat it with the same value.
OVERRIDABLE_ATTRS = frozenset({"default", "description", "enum", "immutable", "required"})


def merge_parameter_schemas(runner: RunnerType, action: Action) -> dict[str, dict[str, Any]]:
    """Return runner parameters overlaid with the action's; action attributes win.

    Raises ``ParameterError`` when the action changes a non-overridable runner attribute.
    ``immutable`` is OR-ed so an action can lock a runner parameter but never unlock one.
    """
    merged: dict[str, dict[str, Any]] = {k: dict(v) for k, v in runner.parameters.items()}
    for name, action_meta in action.parameters.items():
        runner_meta = runner.parameters.get(name)
        if runner_meta is None:
            merged[name] = dict(action_meta)
            continue
        _check_overrides(action.ref, name, runner_meta, action_meta)
        param = merged[name]
        param.update(action_meta)
        if "immutable" in runner_meta or "immutable" in action_meta:
            param["immutable"] = bool(runner_meta.get("immutable")) or bool(
                action_meta.get("immutable")
            )
    return merged


def _check_overrides(
    action_ref: str, name: str, runner_meta: ParamSchema, action_meta: ParamSchema
) -> None:
    for attr, value in action_meta.items():
        if attr in OVERRIDABLE_ATTRS or runner_meta.get(attr) == value:
            continue
        raise ParameterError(
            f'The attribute "{attr}" for the runner parameter "{name}" in action '
            f'"{action_ref}" cannot be overridden.',
            param=name,
        )

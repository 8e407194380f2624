"""Which rules a trigger instance fires, and what their actions would be called with (§4.2, §2.3).

Pure: no I/O, no clock (``now`` comes from the caller), never raises for a broken rule — a bad
criterion is a non-match carrying an ``error``, a bad parameter template is a ``RenderedAction``
with an ``error`` (st2 then still creates the execution and marks it failed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.models import Action, Rule
from core.params import ParameterError, resolve_parameters
from core.rules.criteria import CriteriaResult, evaluate_criteria
from core.rules.index import RuleIndex
from core.rules.selective import CriteriaIndex
from core.runners.types import RUNNER_TYPES

__all__ = [
    "RULE_USER",
    "RenderedAction",
    "RuleMatch",
    "candidate_rules",
    "match_rules",
    "matched_rules",
    "render_action",
    "rule_matches",
]

# st2 enforces rules as its system user; templates may read ``action_context.user``.
RULE_USER = "stanley"


@dataclass(frozen=True)
class RuleMatch:
    rule: Rule
    criteria: CriteriaResult
    matched: bool


@dataclass(frozen=True)
class RenderedAction:
    """The action parameters a rule would request, or why they could not be rendered."""

    action_ref: str
    parameters: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _evaluate(
    rules: Sequence[Rule],
    payload: Mapping[str, Any],
    context: Mapping[str, Any] | None,
    now: datetime | None,
) -> list[RuleMatch]:
    matches = []
    for rule in rules:
        result = evaluate_criteria(rule.criteria, payload, context=context, now=now)
        matches.append(RuleMatch(rule, result, result.matched))
    return matches


def match_rules(
    index: RuleIndex,
    trigger_ref: str,
    trigger_parameters: Mapping[str, Any] | None,
    payload: Mapping[str, Any],
    *,
    now: datetime | None,
    context: Mapping[str, Any] | None = None,
) -> list[RuleMatch]:
    """Evaluate every rule on this trigger; one entry per evaluated rule, matched or not.

    Backstop rules are evaluated (and listed) only when no standard rule matched. ``context``
    adds criteria lookup roots and template names (e.g. ``st2kv``).
    """
    group = index.candidates(trigger_ref, trigger_parameters)
    matches = _evaluate(group.standard, payload, context, now)
    if not any(m.matched for m in matches):
        matches += _evaluate(group.backstop, payload, context, now)
    return matches


def candidate_rules(
    rules: Sequence[Rule], index: CriteriaIndex, payload: Mapping[str, Any]
) -> list[Rule]:
    """The rules of ``rules`` (indexed by ``index``) that may match ``payload``, in order."""
    return [rules[position] for position in index.candidates(payload)]


def rule_matches(
    rule: Rule,
    payload: Mapping[str, Any],
    context: Mapping[str, Any] | None,
    now: datetime | None,
) -> bool:
    return evaluate_criteria(rule.criteria, payload, context=context, now=now).matched


def matched_rules(
    index: RuleIndex,
    trigger_ref: str,
    trigger_parameters: Mapping[str, Any] | None,
    payload: Mapping[str, Any],
    *,
    now: datetime | None,
    context: Mapping[str, Any] | None = None,
) -> list[Rule]:
    """The rules ``match_rules`` reports as matched, found through the criteria index: only
    the candidates are evaluated (the dispatcher does the same in slices, see
    core.triggers.dispatcher)."""
    group = index.candidates(trigger_ref, trigger_parameters)
    found = [
        rule
        for rule in candidate_rules(group.standard, group.standard_index, payload)
        if rule_matches(rule, payload, context, now)
    ]
    if found:
        return found
    return [
        rule
        for rule in candidate_rules(group.backstop, group.backstop_index, payload)
        if rule_matches(rule, payload, context, now)
    ]


def rule_action_context(
    rule: Rule, action: Action, trigger_instance_id: str | None = None
) -> dict[str, Any]:
    """What st2's RuleEnforcer puts in ``action_context`` (refs as ``{id, name}`` plus ``ref``)."""
    return {
        "trigger_instance": {"id": trigger_instance_id, "name": None},
        "rule": {"id": None, "name": rule.name, "ref": rule.ref},
        "user": RULE_USER,
        "pack": action.pack,
    }


def render_action(
    rule: Rule,
    action: Action,
    payload: Mapping[str, Any],
    *,
    pack_config: Mapping[str, Any],
    kv: Mapping[str, Any] | None = None,
    trigger_instance_id: str | None = None,
) -> RenderedAction:
    """Render ``rule.action.parameters`` with ``trigger`` = payload; never raises.

    Rule YAML is pack-authored, so its values are templates (``render_live``); the payload is
    only ever data in the context, never rendered itself.
    """
    runner = RUNNER_TYPES.get(action.runner_type)
    if runner is None:
        error = f"action {action.ref!r} uses unknown runner {action.runner_type!r}"
        return RenderedAction(action.ref, error=error)
    try:
        resolved = resolve_parameters(
            runner,
            action,
            rule.action.parameters,
            action_context=rule_action_context(rule, action, trigger_instance_id),
            config_context=pack_config,
            kv=kv,
            extra_context={"trigger": payload},
            render_live=True,
        )
    except ParameterError as exc:
        return RenderedAction(action.ref, error=str(exc))
    return RenderedAction(action.ref, parameters=resolved.all)

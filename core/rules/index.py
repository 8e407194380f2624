"""Enabled rules grouped by the trigger they listen to (st2-format §4.1, §5).

A trigger is its type ref plus its parameters (webhook url, timer spec), so rules are keyed by
both: a webhook POST to ``/hooks/a`` only looks at the rules registered on ``a``, and the cost of
finding candidates is independent of how many other rules are loaded.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.models import Rule
from core.rules.criteria import criteria_read_kv
from core.rules.selective import CriteriaIndex

__all__ = [
    "BACKSTOP",
    "STANDARD",
    "WEBHOOK_TRIGGER",
    "RuleGroup",
    "RuleIndex",
    "TriggerKey",
    "normalize_parameters",
    "trigger_key",
]

STANDARD = "standard"
BACKSTOP = "backstop"
WEBHOOK_TRIGGER = "core.st2.webhook"

# (trigger type ref, canonical JSON of the trigger parameters)
TriggerKey = tuple[str, str]


def normalize_parameters(trigger_ref: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """st2 strips leading/trailing ``/`` from webhook urls, so ``/a/`` and ``a`` are one hook."""
    normalized = dict(parameters)
    url = normalized.get("url")
    if trigger_ref == WEBHOOK_TRIGGER and isinstance(url, str):
        normalized["url"] = url.strip("/")
    return normalized


def trigger_key(trigger_ref: str, parameters: Mapping[str, Any] | None) -> TriggerKey:
    """The key naming one trigger; key order and spacing in the parameters do not matter.

    Remembered when the parameters are hashable (a webhook's url: once per event), keyed with
    each value's type: True == 1 and 1.0 == 1, but their JSON differs."""
    memo = (trigger_ref, *sorted((k, type(v), v) for k, v in (parameters or {}).items()))
    try:
        return _remembered_key(memo)
    except TypeError:  # a list or mapping among the values: not hashable
        return _canonical_key(trigger_ref, parameters)


@functools.lru_cache(maxsize=4096)
def _remembered_key(memo: tuple[Any, ...]) -> TriggerKey:
    trigger_ref, *items = memo
    return _canonical_key(trigger_ref, {key: value for key, _, value in items})


def _canonical_key(trigger_ref: str, parameters: Mapping[str, Any] | None) -> TriggerKey:
    normalized = normalize_parameters(trigger_ref, parameters or {})
    canonical = json.dumps(normalized, sort_keys=True, separators=(",", ":"), default=str)
    return trigger_ref, canonical


@dataclass(frozen=True)
class RuleGroup:
    """The rules of one trigger, in load order; backstop rules apply only if no standard one
    matched the trigger instance."""

    standard: tuple[Rule, ...] = ()
    backstop: tuple[Rule, ...] = ()
    # Some pattern reads ``st2kv``: evaluating the group needs the datastore.
    reads_kv: bool = False
    # Which of ``standard`` / ``backstop`` may match a payload (core.rules.selective).
    standard_index: CriteriaIndex = field(default_factory=lambda: CriteriaIndex(()))
    backstop_index: CriteriaIndex = field(default_factory=lambda: CriteriaIndex(()))

    def __len__(self) -> int:
        return len(self.standard) + len(self.backstop)


_EMPTY = RuleGroup()


def _group(standard: list[Rule], backstop: list[Rule]) -> RuleGroup:
    return RuleGroup(
        tuple(standard),
        tuple(backstop),
        any(criteria_read_kv(r.criteria) for r in standard + backstop),
        CriteriaIndex(r.criteria for r in standard),
        CriteriaIndex(r.criteria for r in backstop),
    )


class RuleIndex:
    """Immutable after construction: rebuild it when the loaded content changes."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        groups: dict[TriggerKey, tuple[list[Rule], list[Rule]]] = {}
        count = 0
        for rule in rules:
            if not rule.enabled:
                continue  # st2: a disabled rule never matches
            key = trigger_key(rule.trigger.type, rule.trigger.parameters)
            standard, backstop = groups.setdefault(key, ([], []))
            (backstop if rule.type == BACKSTOP else standard).append(rule)
            count += 1
        self._groups = {key: _group(s, b) for key, (s, b) in groups.items()}
        self._count = count

    def __len__(self) -> int:
        return self._count

    def candidates(
        self, trigger_ref: str, trigger_parameters: Mapping[str, Any] | None = None
    ) -> RuleGroup:
        """The enabled rules registered on exactly this trigger (type and parameters)."""
        return self._groups.get(trigger_key(trigger_ref, trigger_parameters), _EMPTY)

    def triggers(self) -> list[tuple[str, dict[str, Any]]]:
        """Every trigger some enabled rule listens to, as (type ref, normalized parameters):
        what webhooks and timers must register."""
        return [(ref, json.loads(params)) for ref, params in self._groups]

    def rules(self) -> list[Rule]:
        return [
            rule for group in self._groups.values() for rule in (*group.standard, *group.backstop)
        ]

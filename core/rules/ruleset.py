"""The effective rule set: rules from the pack files with ``rule enable|disable`` applied.

Pack files say whether a rule starts enabled; an override stored by the CLI wins over the file.
Everything that depends on which rules are enabled (the dispatcher's index, webhook routes,
timers, the notifier's actiontrigger gate) reads it from here and may subscribe to changes, so
enabling a rule takes effect in a running process without a restart.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping

from core.models import Rule
from core.rules.index import WEBHOOK_TRIGGER, RuleIndex

__all__ = ["RuleSet", "RuleSetListener"]

logger = logging.getLogger(__name__)

RuleSetListener = Callable[["RuleSet"], None]


class RuleSet:
    def __init__(self, rules: Iterable[Rule]) -> None:
        self._files = {rule.ref: rule for rule in rules}  # as loaded (replaced by a reload)
        self._overrides: dict[str, bool] = {}
        self._listeners: list[RuleSetListener] = []
        self._rebuild()

    # -- reading --------------------------------------------------------------------------
    @property
    def index(self) -> RuleIndex:
        """The enabled rules by trigger; replaced (never mutated) on every change."""
        return self._index

    def all(self) -> list[Rule]:
        """Every loaded rule with its effective ``enabled``, in load order."""
        return list(self._rules.values())

    def get(self, ref: str) -> Rule | None:
        return self._rules.get(ref)

    def consumes(self, trigger_ref: str) -> bool:
        """Whether some enabled rule listens to this trigger type."""
        return trigger_ref in self._trigger_types

    def webhook_urls(self) -> frozenset[str]:
        """The hooks some enabled rule listens to (urls normalized by the index)."""
        return self._webhook_urls

    @property
    def overrides(self) -> Mapping[str, bool]:
        return dict(self._overrides)

    # -- changing -------------------------------------------------------------------------
    def subscribe(self, listener: RuleSetListener) -> None:
        """Call ``listener(self)`` after every effective change (not on subscription)."""
        self._listeners.append(listener)

    def replace_rules(self, rules: Iterable[Rule]) -> None:
        """New rules from the pack files (a content reload); overrides still apply."""
        self._files = {rule.ref: rule for rule in rules}
        self._rebuild()
        self._notify()

    def apply_overrides(self, overrides: Mapping[str, bool]) -> bool:
        """Replace the stored overrides; returns whether any rule's ``enabled`` changed.

        Overrides naming a rule that is not loaded are kept (the pack may come back) but have
        no effect.
        """
        before = {ref: rule.enabled for ref, rule in self._rules.items()}
        self._overrides = dict(overrides)
        self._rebuild()
        changed = before != {ref: rule.enabled for ref, rule in self._rules.items()}
        if changed:
            self._notify()
        return changed

    def _rebuild(self) -> None:
        rules: dict[str, Rule] = {}
        for ref, rule in self._files.items():
            wanted = self._overrides.get(ref, rule.enabled)
            if wanted != rule.enabled:
                rule = dataclasses.replace(rule, enabled=wanted)
            rules[ref] = rule
        self._rules = rules
        self._index = RuleIndex(rules.values())
        self._trigger_types = frozenset(r.trigger.type for r in rules.values() if r.enabled)
        self._webhook_urls = frozenset(
            str(params["url"])
            for ref, params in self._index.triggers()
            if ref == WEBHOOK_TRIGGER and isinstance(params.get("url"), str)
        )

    def _notify(self) -> None:
        for listener in list(self._listeners):
            try:
                listener(self)
            except Exception:  # one broken subscriber must not keep the others stale
                logger.exception("rule set listener %r failed", listener)

"""Keep a RuleSet in step with the ``rule enable|disable`` overrides stored by any process.

The CLI writes overrides to the store and exits; a running ``serve`` polls them, so the change
reaches its dispatcher, webhook routes and timers (RuleSet listeners) within one interval.
Polling rather than notifications: it works the same on SQLite and MongoDB, and one small read
every few seconds costs nothing.
"""

from __future__ import annotations

import asyncio
import logging

from core.models.rule_state import overrides_of
from core.rules.ruleset import RuleSet
from core.store.base import RuleStateRepository

logger = logging.getLogger(__name__)


async def load_overrides(rules: RuleSet, states: RuleStateRepository) -> bool:
    """Apply the stored overrides to ``rules``; returns whether any rule's state changed."""
    return rules.apply_overrides(overrides_of(await states.list()))


async def refresh_forever(rules: RuleSet, states: RuleStateRepository, interval: float) -> None:
    """Re-apply the stored overrides every ``interval`` seconds until cancelled."""
    while True:
        await asyncio.sleep(interval)
        try:
            changed = await load_overrides(rules, states)
        except Exception:  # a store hiccup: keep the current rules and try again next time
            logger.exception("could not refresh rule states; keeping the current ones")
            continue
        if changed:
            enabled = sorted(rule.ref for rule in rules.all() if rule.enabled)
            logger.info("rule states changed; enabled rules: %s", ", ".join(enabled) or "none")

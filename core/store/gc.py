"""Garbage collection: delete old executions, trigger instances and rule enforcements.

As in StackStorm's garbage collector every TTL is off unless configured, so nothing a user can
see disappears by default. Only finished records are ever removed: the store methods delete
completed executions and processed / processing_failed instances, never work in flight.
Expired datastore items are removed on every pass: they are already invisible to reads.
Chat outbox items older than ``outbox_ttl`` (a result for a platform no process has held that
long, e.g. a platform removed from every process's config) are dropped and logged per channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.store import Store

__all__ = ["GarbageCollector", "GcCounts", "GcPolicy"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GcPolicy:
    """How long each kind of record is kept; None keeps it forever."""

    executions_ttl: timedelta | None = None
    trigger_instances_ttl: timedelta | None = None
    rule_enforcements_ttl: timedelta | None = None
    outbox_ttl: timedelta | None = None


@dataclass(frozen=True)
class GcCounts:
    """What one pass deleted."""

    executions: int = 0
    trigger_instances: int = 0
    rule_enforcements: int = 0
    kv_expired: int = 0
    outbox_expired: int = 0

    @property
    def total(self) -> int:
        return (
            self.executions + self.trigger_instances + self.rule_enforcements + self.kv_expired
            + self.outbox_expired
        )  # fmt: skip

    def __str__(self) -> str:
        return (
            f"executions={self.executions} trigger_instances={self.trigger_instances}"
            f" rule_enforcements={self.rule_enforcements} kv_expired={self.kv_expired}"
            f" outbox_expired={self.outbox_expired}"
        )


class GarbageCollector:
    def __init__(self, store: Store, policy: GcPolicy, *, now: Callable[[], datetime]) -> None:
        self.store = store
        self.policy = policy
        self.now = now

    async def run_once(self, now: datetime) -> GcCounts:
        """One pass with ``now`` as the reference time; returns what was deleted."""
        counts = GcCounts(
            executions=await self._older_than(
                self.policy.executions_ttl, now, self.store.executions.delete_completed_before
            ),
            trigger_instances=await self._older_than(
                self.policy.trigger_instances_ttl, now, self.store.trigger_instances.delete_before
            ),
            rule_enforcements=await self._older_than(
                self.policy.rule_enforcements_ttl, now, self.store.rule_enforcements.delete_before
            ),
            kv_expired=await self.store.kv.delete_expired(now),
            outbox_expired=await self._expire_outbox(now),
        )
        # Quiet when idle: a pass every few minutes would otherwise fill the log with zeros.
        level = logging.INFO if counts.total else logging.DEBUG
        logger.log(level, "garbage collection deleted %s", counts)
        return counts

    async def run_forever(self, interval_seconds: float) -> None:
        """Pass after pass until cancelled; a failed pass is logged and retried next time."""
        while True:
            try:
                await self.run_once(self.now())
            except Exception:  # a store hiccup must not end collection for the process's life
                logger.exception("garbage collection failed")
            await asyncio.sleep(interval_seconds)

    async def _expire_outbox(self, now: datetime) -> int:
        ttl = self.policy.outbox_ttl
        if ttl is None:
            return 0
        dropped = await self.store.outbox.purge(now - ttl)
        for channel, count in sorted(dropped.items()):
            logger.warning(
                "chat outbox: dropped %d item(s) for %s waiting over %s (no process delivered"
                " them: is that platform configured and connected anywhere?)",
                count, channel, ttl,
            )  # fmt: skip
        return sum(dropped.values())

    @staticmethod
    async def _older_than(
        ttl: timedelta | None,
        now: datetime,
        delete_before: Callable[[datetime], Awaitable[int]],
    ) -> int:
        return 0 if ttl is None else await delete_before(now - ttl)

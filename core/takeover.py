"""Work a dead process left behind, taken over while the cluster runs (not only at a start).

At its start every ``serve`` recovers what a dead process left (core.executions.recovery,
WorkflowEngine.recover, TriggerDispatcher.recover). With several processes on one store the
survivors must not wait for a restart: the holder of the ``recovery`` lease runs this sweep
every few seconds. Each step is safe to repeat and to race (compare-and-set everywhere):

- in-flight executions whose owner is provably gone are abandoned (or requeued when they never
  started); claims of dead processes are released;
- workflows of a dead owner are taken up by this process's engine and carry on;
- trigger instances stuck in ``processing`` for longer than ``stale_after`` are processed again
  (a rule already enforced for the instance is skipped: enforcements are unique per rule and
  instance, so nothing fires twice).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from core.executions.recovery import abandon_orphans
from core.models import Execution
from core.models.trigger_instance import TriggerInstanceStatus
from core.store import Store
from core.triggers.dispatcher import TriggerDispatcher
from core.workflows.engine import WorkflowEngine

logger = logging.getLogger(__name__)

Listener = Callable[[Execution], Awaitable[None]]
PAGE = 200


class Takeover:
    def __init__(
        self,
        store: Store,
        workflows: WorkflowEngine,
        triggers: TriggerDispatcher,
        listeners: Sequence[Listener],
        *,
        resumable: frozenset[str],
        stale_after: timedelta,
        now: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.workflows = workflows
        self.triggers = triggers
        self.listeners = listeners
        self.resumable = resumable
        self.stale_after = stale_after
        self.now = now

    async def sweep(self) -> None:
        for abandoned in await abandon_orphans(self.store, resumable=self.resumable):
            for listener in self.listeners:  # actiontrigger, notify routes, chat cards
                await listener(abandoned)
        await self.workflows.recover()
        cutoff = self.now() - self.stale_after
        for instance in await self.store.trigger_instances.list_unfinished(PAGE):
            stale = instance.occurrence_time < cutoff
            if instance.status is TriggerInstanceStatus.PROCESSING and stale:
                await self.triggers.process(instance)

    async def run_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.sweep()
            except Exception:  # a store hiccup: try again next time
                logger.exception("taking over the work of dead processes failed")

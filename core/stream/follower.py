"""Execution changes made by other processes sharing the store, onto this process's stream.

A stream carries what its own process does at once (core.stream.executions). Other processes
of a cluster, or the ``squall`` CLI, write to the same store without telling it. While at least
one stream client is connected (and for ``LINGER`` seconds after the last leaves, so a client
that reconnects with ``Last-Event-ID`` misses nothing), this reads the store every
``interval`` seconds and hands what it finds to ``ExecutionEvents.seen``, which publishes
only versions not published yet:

- executions started since the last look (oldest first, a page at a time, re-reading the last
  ``WINDOW`` to catch a row stored a little after its start time or by a clock a little behind);
- executions not finished yet, and those that were unfinished at the last look and are no
  longer listed as such (read by id: they finished).

Costs: nothing while nobody listens; two indexed queries (plus one read per execution that
finished since the last look) per interval while someone does. The first look after a pause is a
baseline: what was already there is remembered, not announced. Limits: an execution stored
more than ``WINDOW`` after its start time that finishes before the next look is missed, and
output chunks (``st2.execution.output__create``) of other processes are not carried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from core.models import COMPLETED, Execution, ExecutionStatus, utcnow
from core.store import ExecutionQuery
from core.store.base import ExecutionRepository, StoreError
from core.stream.bus import StreamBus
from core.stream.executions import ExecutionEvents

logger = logging.getLogger(__name__)
WINDOW = timedelta(seconds=2)
PAGE = 500
LINGER = 30.0
UNFINISHED = tuple(s for s in ExecutionStatus if s not in COMPLETED)


class ExecutionFollower:
    def __init__(
        self,
        executions: ExecutionRepository,
        events: ExecutionEvents,
        bus: StreamBus,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._executions = executions
        self._events = events
        self._bus = bus
        self._interval = interval
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._since: datetime | None = None  # None: the next look is a baseline
        self._unfinished: set[str] = set()

    def wake(self) -> None:
        """A stream client connected: follow the store until nobody has listened for a while."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._follow(), name="stream-follower")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self) -> None:
        last_listened = self._clock()
        while self._clock() - last_listened < LINGER:
            if self._bus.subscriber_count:
                last_listened = self._clock()
            try:
                await self.look()
            except StoreError as exc:  # the store is away: the next look tries again
                logger.warning("stream follower: %s", exc)
            await asyncio.sleep(self._interval)
        self._since = None  # unwatched changes are not replayed when someone comes back

    async def look(self) -> None:
        """One read of the store; publishes what changed since the last one."""
        baseline = self._since is None
        since = self._since or utcnow() - WINDOW
        fresh = await self._executions.list(
            ExecutionQuery(started_after=since, oldest_first=True, limit=PAGE)
        )
        open_now = await self._executions.list(ExecutionQuery(statuses=UNFINISHED, limit=PAGE))
        found: dict[str, Execution] = {e.id: e for e in (*fresh, *open_now)}
        for gone in self._unfinished - found.keys():
            execution = await self._executions.get(gone)
            if execution is not None:
                found[gone] = execution
        for execution in sorted(found.values(), key=lambda e: (e.start_timestamp, e.id)):
            self._events.seen(execution, publish=not baseline)
        self._unfinished = {i for i, e in found.items() if not e.is_completed}
        self._since = _advance(since, fresh)


def _advance(since: datetime, fresh: list[Execution]) -> datetime:
    if not fresh:
        return since
    newest = fresh[-1].start_timestamp
    if len(fresh) == PAGE:  # catching up: the next page starts after this one
        return newest
    return max(since, newest - WINDOW)

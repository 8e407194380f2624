"""LeaseKeeper: run a job in exactly one process of a cluster sharing one store.

The generic API for "only one of us may do this" (the timers, the sensors, a chat platform's
connection): a keeper tries to take its named lease every ``renew`` seconds, calls ``on_gain``
when it gets it and ``on_loss`` when it stops holding it (it could not renew in time, or the
process is stopping; then the lease is released so another takes over at once).

Timings: a holder renews every ``renew`` seconds for ``ttl`` seconds ahead. If it dies, its
lease runs out at most ``ttl`` after its last renewal and another keeper, trying every
``renew`` seconds, takes it within ``ttl + renew`` (the "grace"). A holder that could not renew
for ``ttl`` (a store outage, a stalled loop) stops its job before anyone else can take over, as
far as clocks agree: leases compare wall-clock times of different hosts, so keep them in sync
(NTP) and ``ttl`` well above the skew. Jobs must still be idempotent at the edges (timer ticks
carry a dedupe key; outbox items are claimed), since a stalled holder may finish one last step.

A holder on this host whose process is provably gone (``OwnerId``: pid + start time) is not
waited for: its lease is released and taken at once, so a restarted ``serve`` gets its jobs
back immediately instead of after ``ttl``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from core.executions.owner import OwnerId
from core.observe import metrics
from core.store.base import LeaseRepository

logger = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[None]]


class LeaseKeeper:
    def __init__(
        self,
        leases: LeaseRepository,
        name: str,
        holder: str,
        *,
        ttl: float,
        renew: float,
        now: Callable[[], datetime],
        on_gain: Hook,
        on_loss: Hook,
    ) -> None:
        if not 0 < renew < ttl:
            raise ValueError(f"lease {name}: renew ({renew}s) must be above 0 and below ttl")
        self.leases = leases
        self.name = name
        self.holder = holder
        self.ttl = timedelta(seconds=ttl)
        self.renew = renew
        self.now = now
        self._on_gain = on_gain
        self._on_loss = on_loss
        self._held = False
        self._valid_until: datetime | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def held(self) -> bool:
        return self._held

    @held.setter
    def held(self, value: bool) -> None:
        self._held = value
        metrics.LEASE_OWNED.labels(self.name).set(1 if value else 0)

    async def start(self) -> None:
        """One attempt now (so a lone process starts its job at once), then keep trying."""
        await self.tick()
        self._task = asyncio.create_task(self._loop(), name=f"lease-{self.name}")

    async def stop(self, *, stop_job: bool = True) -> None:
        """Stop renewing and release the lease so another process takes over now; the job is
        stopped first unless ``stop_job`` is False (the caller winds it down itself)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.held:
            if stop_job:
                await self._lose("stopping")
            self.held = False
            with contextlib.suppress(Exception):
                await self.leases.release(self.name, self.holder)

    async def tick(self) -> None:
        """Try to take or renew the lease once, and start or stop the job accordingly."""
        now = self.now()
        try:
            acquired = await self.leases.acquire(self.name, self.holder, now + self.ttl, now)
            if not acquired and await self._free_from_dead_holder():
                acquired = await self.leases.acquire(self.name, self.holder, now + self.ttl, now)
        except Exception as exc:  # the store is unreachable: we hold it only until it expires
            logger.warning("lease %s: could not renew: %s", self.name, exc)
            if self.held and self._valid_until is not None and self.now() >= self._valid_until:
                await self._lose("expired while the store was unreachable")
            return
        if acquired:
            self._valid_until = now + self.ttl
            if not self.held:
                self.held = True
                logger.warning("lease %s: taken by %s", self.name, self.holder)
                try:
                    await self._on_gain()
                except BaseException:  # the job did not start: let another process have it
                    self.held = False
                    with contextlib.suppress(Exception):
                        await self.leases.release(self.name, self.holder)
                    raise
        elif self.held:
            await self._lose("another process holds it")

    async def _free_from_dead_holder(self) -> bool:
        current = next((x for x in await self.leases.list() if x.name == self.name), None)
        owner = OwnerId.parse(current.holder) if current is not None else None
        if current is None or owner is None or not owner.is_local() or owner.is_alive():
            return False
        logger.warning("lease %s: its holder %s is gone; taking over", self.name, current.holder)
        return await self.leases.release(self.name, current.holder)

    async def _lose(self, why: str) -> None:
        self.held = False
        self._valid_until = None
        logger.warning("lease %s: %s gave it up (%s)", self.name, self.holder, why)
        try:
            await self._on_loss()
        except Exception:
            logger.exception("lease %s: stopping its job failed", self.name)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.renew)
            try:
                await self.tick()
            except Exception:  # the job's own start failed: try again next time
                logger.exception("lease %s: handling failed", self.name)

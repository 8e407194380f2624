"""Keeps one sensor running: restart with backoff when it stops, give up after too many."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable

from core.observe import metrics
from core.sensors.backoff import FailureHistory, RestartPolicy
from core.sensors.process import SensorProcess
from core.sensors.status import SensorState, SensorStatus
from core.sensors.triggers import TriggerChange

logger = logging.getLogger(__name__)

# Called with (event, process, exit code or None): "spawn" after a start, "exit" after an exit.
LifecycleHook = Callable[[str, SensorProcess, int | None], Awaitable[None]]


class Supervisor:
    def __init__(
        self,
        ref: str,
        pack: str,
        make_process: Callable[[], SensorProcess],
        policy: RestartPolicy,
        *,
        on_event: LifecycleHook,
        on_change: Callable[[], None],
        rng: random.Random | None = None,
    ) -> None:
        self.ref = ref
        self.pack = pack
        self._make = make_process
        self._history = FailureHistory(policy)
        self._on_event = on_event
        self._on_change = on_change
        self._rng = rng or random.Random()
        self.state = SensorState.STARTING
        self.restarts = 0
        self.last_error = ""
        self.process: SensorProcess | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def status(self) -> SensorStatus:
        pid = self.process.pid if self.process and self.state is SensorState.RUNNING else None
        return SensorStatus(self.ref, self.pack, self.state, pid, self.restarts, self.last_error)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"sensor-{self.ref}")

    async def stop(self, grace: float) -> None:
        self._stopping.set()
        if self.process is not None:
            await self.process.stop(grace)
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._set(SensorState.STOPPED)

    async def change(self, change: TriggerChange) -> None:
        """Tell the running process (a process started later gets the whole set)."""
        process = self.process
        if process is not None and self.state is SensorState.RUNNING:
            with contextlib.suppress(OSError, ConnectionError):
                await process.change(change)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            code = await self._run_once()
            if self._stopping.is_set():
                return
            self._history.record(time.monotonic())
            if self._history.give_up:
                policy = self._history.policy
                logger.error(
                    "sensor %s: gave up after %d failures within %g s; last: %s",
                    self.ref, policy.max_failures, policy.window_seconds, self.last_error,
                )  # fmt: skip
                self._set(SensorState.FAILED)
                return
            delay = self._history.delay(self._rng)
            logger.warning("sensor %s exited (%s); restarting in %.1f s", self.ref, code, delay)
            self._set(SensorState.BACKOFF)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            self.restarts += 1
            metrics.SENSOR_RESTARTS.labels(self.ref).inc()

    async def _run_once(self) -> int | None:
        self.process = process = self._make()
        self._set(SensorState.STARTING)
        try:
            await process.start()
        except OSError as exc:
            self.last_error = f"cannot start: {exc}"
            return None
        self._set(SensorState.RUNNING)
        await self._on_event("spawn", process, None)
        code = await process.wait()
        self.last_error = process.last_error() or f"exited with code {code}"
        await self._on_event("exit", process, code)
        return code

    def _set(self, state: SensorState) -> None:
        self.state = state
        self._on_change()

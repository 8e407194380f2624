"""Timer rules (``core.st2.IntervalTimer``/``DateTimer``/``CronTimer``) on APScheduler 3.x.

One ``AsyncIOScheduler`` job per distinct timer (type + parameters) that some enabled rule
listens to; the job set follows the RuleSet, so enabling, disabling or changing a rule
reschedules without a restart. A due tick becomes ``dispatcher.dispatch`` with the rule's
trigger parameters and a dedupe key per (timer, tick), so two processes sharing a store, or a
restart within the same tick, store that tick once.

Missed ticks (downtime, a blocked loop) never cause a burst: due ticks are coalesced and fire
at most once, and only if the latest is within ``misfire_grace``. At start, a tick missed
within the grace fires once (the dedupe key drops it if it had fired before the restart).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from core.rules.index import TriggerKey, trigger_key
from core.rules.ruleset import RuleSet
from core.triggers.builtin import TIMER_TYPES
from core.triggers.dispatcher import TriggerDispatcher
from core.triggers.timer_specs import (
    TimerSpecError,
    build_trigger,
    fire_dedupe_key,
    latest_missed_fire,
    pick_fire,
    resolve_timezone,
    timer_payload,
)

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.base import BaseTrigger

__all__ = ["TimerService"]

logger = logging.getLogger(__name__)

EXECUTOR = "squall-timers"


@dataclass(frozen=True)
class _Timer:
    """One distinct timer and the rules listening to it (for logs and the instance source)."""

    key: TriggerKey
    parameters: dict[str, Any]
    rules: str


class TimerService:
    def __init__(
        self,
        dispatcher: TriggerDispatcher,
        rules: RuleSet,
        *,
        now: Callable[[], datetime],
        default_timezone: str = "UTC",
        misfire_grace: timedelta = timedelta(seconds=60),
    ) -> None:
        self._dispatcher = dispatcher
        self._rules = rules
        self._now = now
        self._timezone = resolve_timezone(default_timezone, UTC)
        self._grace = misfire_grace
        # Created with the first timer to schedule (see _jobs): most deployments have none.
        self._scheduler: AsyncIOScheduler | None = None
        self._timers: dict[str, _Timer] = {}  # job id → the timer it fires
        self._tasks: set[asyncio.Task[None]] = set()
        self._running = False
        rules.subscribe(self._on_rules_changed)

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Start the scheduler and schedule every enabled timer rule (owing missed ticks)."""
        self._running = True
        self.sync(catch_up=True)

    @property
    def running(self) -> bool:
        """Started and not stopped; with timers to fire, their scheduler is running too."""
        return self._running and (self._scheduler is None or bool(self._scheduler.running))

    async def stop(self, grace: float = 5.0) -> None:
        """Stop scheduling; fires already dispatching get ``grace`` seconds to be stored."""
        if self._running:
            self._running = False
            if self._scheduler is not None and self._scheduler.running:
                self._scheduler.shutdown(wait=False)
                await asyncio.sleep(0)  # AsyncIOScheduler shuts down in a loop callback
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        pending = list(self._tasks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def wakeup(self) -> None:
        """Ask the scheduler to look for due ticks now (it also wakes up on its own)."""
        if self._scheduler is not None:
            self._scheduler.wakeup()

    async def settle(self, timeout: float = 10.0) -> None:
        """Let pending scheduler callbacks run and wait (up to ``timeout``) for their fires."""
        for _ in range(3):  # wakeup → executor → fire task: each hop is one loop callback
            await asyncio.sleep(0)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    # -- reading --------------------------------------------------------------------------
    def next_fire_times(self) -> dict[TriggerKey, datetime]:
        """When each scheduled timer fires next (a fired DateTimer is no longer scheduled)."""
        times: dict[TriggerKey, datetime] = {}
        for job_id, timer in self._timers.items():
            job = self._jobs().get_job(job_id)
            if job is not None:
                times[timer.key] = job.next_run_time
        return times

    # -- scheduling -----------------------------------------------------------------------
    def _on_rules_changed(self, rules: RuleSet) -> None:
        if self._running:
            self.sync()

    def sync(self, *, catch_up: bool = False) -> None:
        """Make the jobs match the enabled timer rules; unchanged timers keep their schedule."""
        wanted = self._wanted()
        for job_id in set(self._timers) - set(wanted):
            del self._timers[job_id]
            if self._jobs().get_job(job_id) is not None:
                self._jobs().remove_job(job_id)
        for job_id, timer in wanted.items():
            if job_id not in self._timers and self._schedule(job_id, timer, catch_up=catch_up):
                self._timers[job_id] = timer
        # Jobs added before the start are scheduled in one pass (after it, each add wakes it).
        if self._running and self._scheduler is not None and not self._scheduler.running:
            self._scheduler.start()

    def _jobs(self) -> AsyncIOScheduler:
        """The APScheduler scheduler, created (and APScheduler imported) on first use."""
        if self._scheduler is None:
            from core.triggers.timer_scheduler import new_scheduler

            self._scheduler = new_scheduler(self._timezone, executor=EXECUTOR)
        return self._scheduler

    def _wanted(self) -> dict[str, _Timer]:
        wanted: dict[str, _Timer] = {}
        index = self._rules.index
        for ref, parameters in index.triggers():
            if ref in TIMER_TYPES:
                key = trigger_key(ref, parameters)
                group = index.candidates(ref, parameters)
                names = ",".join(r.ref for r in (*group.standard, *group.backstop))
                wanted[f"{key[0]}:{key[1]}"] = _Timer(key, parameters, names)
        return wanted

    def _schedule(self, job_id: str, timer: _Timer, *, catch_up: bool) -> bool:
        ref, spec = timer.key
        try:
            trigger = build_trigger(ref, timer.parameters, self._timezone)
        except TimerSpecError as exc:
            logger.error("rule %s: %s %s not scheduled: %s", timer.rules, ref, spec, exc)
            return False
        first = self._first_fire(trigger, catch_up=catch_up)
        if first is None:
            logger.warning("rule %s: %s %s is in the past, not scheduled", timer.rules, ref, spec)
            return False
        self._jobs().add_job(
            self._due,
            trigger=trigger,
            args=[job_id],
            id=job_id,
            name=timer.rules,
            executor=EXECUTOR,
            next_run_time=first,
            replace_existing=True,
        )
        return True

    def _first_fire(self, trigger: BaseTrigger, *, catch_up: bool) -> datetime | None:
        now = self._now()
        missed = latest_missed_fire(trigger, now, self._grace) if catch_up else None
        if missed is not None:
            return missed
        first: datetime | None = trigger.get_next_fire_time(None, now)
        # A DateTrigger returns its date even when it is past: st2 does not schedule those.
        return first if first is not None and first >= now else None

    # -- firing ---------------------------------------------------------------------------
    def _due(self, job_id: str, *run_times: datetime) -> None:
        timer = self._timers.get(job_id)
        if timer is None:
            return  # unscheduled while the tick was being submitted
        fire_time = pick_fire(list(run_times), self._now(), self._grace)
        if fire_time is None:
            logger.warning("timer of rule %s missed its tick beyond the grace time", timer.rules)
            return
        task = asyncio.create_task(self._fire(timer, fire_time), name=f"timer-{job_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fire(self, timer: _Timer, fire_time: datetime) -> None:
        try:
            await self._dispatcher.dispatch(
                timer.key[0],
                timer_payload(self._now()),
                trigger_parameters=timer.parameters,
                source=f"timer:{timer.rules}",
                dedupe_key=fire_dedupe_key(timer.key, fire_time),
            )
        except Exception:  # the store may be down: the next tick tries again
            logger.exception("timer of rule %s could not fire", timer.rules)

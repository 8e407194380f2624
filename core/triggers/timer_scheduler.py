"""The APScheduler 3.x scheduler behind ``TimerService`` (core/triggers/timers.py).

A module of its own so that APScheduler (with dateutil, tzlocal and multiprocessing, ~2.5 MB
resident) loads when the first timer rule is scheduled, not at every start-up: a deployment
without timer rules never imports it.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from apscheduler.executors.base import BaseExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler

__all__ = ["new_scheduler"]


class _TickExecutor(BaseExecutor):  # type: ignore[misc]
    """Hands the job function the ticks it is due for.

    APScheduler's own executors hide the scheduled times from the function, and the dedupe key
    needs them. The function only starts a task and returns, so there are no running instances
    to count (the base class's max_instances bookkeeping is skipped).
    """

    def submit_job(self, job: Any, run_times: list[datetime]) -> None:
        self._do_submit_job(job, run_times)

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        job.func(*job.args, *run_times)


def new_scheduler(timezone: tzinfo, *, executor: str) -> AsyncIOScheduler:
    """A scheduler whose ``executor`` hands jobs their due ticks; ticks coalesce, never expire."""
    return AsyncIOScheduler(
        timezone=timezone,
        executors={executor: _TickExecutor()},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )

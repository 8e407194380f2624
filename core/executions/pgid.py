"""The process group of an execution's subprocess, recorded for recovery, and without a write of
its own when the process ends soon.

A restart kills what a dead Squall left behind (``core.executions.recovery``): the recorded
process group, and every process whose environment carries the execution's
``ST2_ACTION_EXECUTION_ID`` (which each process of the execution inherits). A process that
ends within ``PGID_WRITE_DELAY`` has its pgid stored with its outcome, in the write that
finishes the execution; one still running then has it written on its own. A crash before that
write leaves a ``running`` execution without a pgid, whose processes recovery finds by the
variable instead.
"""

from __future__ import annotations

import asyncio

from core.models import Execution
from core.store import ExecutionRepository

# Most actions end well within this; longer ones get their pgid written then.
PGID_WRITE_DELAY = 1.0


class ProcessGroupRecord:
    """``started`` is the runner's ``on_process_start``; ``settle`` ends any pending write."""

    def __init__(self, repo: ExecutionRepository, latest: list[Execution]) -> None:
        self._repo = repo
        # What the store holds as far as this run wrote it (shared with run_execution, whose
        # finishing write carries the pgid set here).
        self._latest = latest
        self._timer: asyncio.TimerHandle | None = None
        self._write: asyncio.Task[None] | None = None

    async def started(self, pgid: int) -> None:
        self._latest[0] = self._latest[0].with_changes(pgid=pgid)
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(PGID_WRITE_DELAY, self._write_now)

    def _write_now(self) -> None:
        self._timer = None
        self._write = asyncio.create_task(self._store())

    async def _store(self) -> None:
        for _ in range(3):  # a status changed by someone else (a cancel) fails the CAS: reread
            known = self._latest[0]
            if await self._repo.replace(known, expected_status=known.status):
                return
            fresh = await self._repo.get(known.id)
            if fresh is None:
                return
            self._latest[0] = fresh.with_changes(pgid=known.pgid)

    async def settle(self) -> None:
        """The runner returned: no separate write any more (the outcome carries the pgid);
        one already on its way is waited for, so it never lands after the outcome."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._write is not None:
            await asyncio.shield(self._write)

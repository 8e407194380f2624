"""Carrying on after a restart: unfinished workflows of dead processes, leases, remote requests."""

from __future__ import annotations

import asyncio
import logging

from core.executions.recovery import owner_is_gone
from core.models import Execution, utcnow
from core.store import ExecutionQuery
from core.workflows.live import RUNNER_TYPE, S
from core.workflows.shell import LEASE, POLL_SECONDS, WorkflowShell

logger = logging.getLogger(__name__)


class WorkflowRecovery(WorkflowShell):
    """Takes up workflows nobody conducts and keeps the leases of those it does."""

    async def recover(self) -> int:
        """Carry on every unfinished workflow whose process is gone (this one's, after a
        restart); returns how many were taken up."""
        now = utcnow()
        taken = 0
        statuses = (S.RUNNING, S.PAUSING, S.PAUSED, S.RESUMING, S.CANCELING, S.SCHEDULED)
        offset = 0
        while True:
            page = await self.store.executions.list(
                ExecutionQuery(statuses=statuses, limit=200, offset=offset)
            )
            offset += len(page)
            for execution in page:
                if execution.runner_type != RUNNER_TYPE or execution.id in self._live:
                    continue
                foreign = bool(execution.owner) and execution.owner != str(self.owner)
                if foreign and not owner_is_gone(execution, now):
                    continue
                if await self._take_up(execution):
                    taken += 1
            if len(page) < 200:
                return taken

    async def _take_up(self, execution: Execution) -> bool:
        owned = execution.with_changes(owner=str(self.owner), lease_expires=utcnow() + LEASE)
        if not await self.service.replace(execution, owned):
            return False
        if execution.status is S.SCHEDULED:
            # Claimed by a process that died before running it: run it here.
            running = await self.service.set_status(owned, S.RUNNING)
            if running is None:
                return False
            owned = running
        async with self._lock(execution.id):
            live = self._live.get(execution.id) or await self._load(execution)
            if live is None:
                # Died before its first save: begin it now (nothing was requested yet).
                return await self.start_fresh(owned)
            await self._reconcile(live)
            await self._step(live, mirror=True)
        return True

    async def start_fresh(self, execution: Execution) -> bool:
        action = self.service.index.actions.get(execution.action_ref)
        definition = self.definitions.get(action)[0] if action else None
        if definition is None:
            await self.service.set_status(
                execution, S.FAILED, result={"output": None, "errors": [
                    {"type": "error", "message": "the workflow definition is gone or invalid"}]}
            )  # fmt: skip
            return False
        live = await self._begin(execution, definition)
        await self._step(live)
        return True

    async def poll_forever(self) -> None:
        """Renew the leases of live workflows and pick up cancel/pause requests made by
        other processes (they arrive as the execution's status)."""
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                await self._poll()
            except Exception:
                logger.exception("workflow poll failed")

    async def _poll(self) -> None:
        for live in list(self._live.values()):
            await self.store.executions.renew_lease(live.id, str(self.owner), utcnow() + LEASE)
            current = await self.store.executions.get(live.id)
            if self._request_waiting(live, current) is not None:
                await self._advance(live, mirror=True)  # idle: step it to apply the request

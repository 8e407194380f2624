"""The workflow execution's own status: the conductor's mirrored onto it, and the cancel,
pause or resume requests recorded in it applied to the conductor and passed on to the tasks.
The base of ``WorkflowShell`` (core/workflows/shell.py), which steps the workflow."""

from __future__ import annotations

import contextlib
import logging
from abc import ABC, abstractmethod
from typing import Any

from core.executions.service import ExecutionError, ExecutionService
from core.models import COMPLETED, Execution, ExecutionStatus
from core.models.status import IllegalTransition, transition_path
from core.observe import logcontext
from core.store import Store
from core.workflows.conductor import Conductor, WorkflowStatusError
from core.workflows.live import (
    EXECUTION_STATUS,
    RUNNER_TYPE,
    LiveWorkflow,
    S,
    drop_delays,
    named_children,
    pending_request,
)

logger = logging.getLogger(__name__)


class WorkflowStatusMirror(ABC):
    """Keeps a workflow execution's status and its conductor's in step (under its lock)."""

    service: ExecutionService
    store: Store
    _live: dict[str, LiveWorkflow]

    @abstractmethod
    async def _step(self, live: LiveWorkflow, *, mirror: bool = False) -> None:
        """WorkflowShell's: start what can start, save, mirror."""

    async def _mirror(self, live: LiveWorkflow) -> None:
        # A step often runs in the task of the child whose end it applies: its lines are the
        # workflow's, not that child's.
        with logcontext.bound(execution_id=live.id):
            await self._mirror_status(live)

    async def _mirror_status(self, live: LiveWorkflow) -> None:
        conductor = live.conductor
        current = await self.store.executions.get(live.id)
        requested = self._request_waiting(live, current)
        if requested is not None:
            # A cancel, pause or resume recorded in the status (e.g. by another process's
            # CLI) that the conductor has not heard yet: apply it, never overwrite it.
            await self._apply_request(live, requested)
            return
        target = EXECUTION_STATUS.get(conductor.status)
        if target is None:
            return
        if conductor.status in ("canceling", "canceled"):
            drop_delays(live)  # a task still waiting on its delay never starts now
        if target in COMPLETED and (live.state.has_active_tasks or live.delays or live.dirty):
            live.mirrored = None  # look again after the next step
            return  # remediation after a failure still runs: finish after it
        live.mirrored = conductor.status
        for attempt in range(3):
            if attempt:
                current = await self.store.executions.get(live.id)
            if current is None or current.status is target:
                break
            if current.is_completed:
                break
            if await self._move(current, target, conductor, live.secrets):
                break
        if target in COMPLETED:
            await self._finished(live)

    async def _move(
        self, current: Execution, target: ExecutionStatus, conductor: Conductor,
        secrets: set[str],
    ) -> bool:  # fmt: skip
        try:
            path = transition_path(current.status, target)
        except ValueError:
            logger.error("workflow %s: cannot go %s -> %s", current.id, current.status, target)
            return True
        logger.debug("workflow %s: %s -> %s (conductor %s)", current.id, current.status, target,
                     conductor.status)  # fmt: skip
        for status in path:
            changes: dict[str, Any] = {}
            if status in COMPLETED:
                changes["result"] = conductor.result()
                changes["secrets"] = tuple({*current.secrets, *secrets})  # published, output
            moved = await self.service.set_status(current, status, **changes)
            if moved is None:
                return False
            current = moved
        return True

    async def _finished(self, live: LiveWorkflow) -> None:
        self._forget(live)
        with contextlib.suppress(Exception):
            await self.store.workflows.compact(live.id)

    def _forget(self, live: LiveWorkflow) -> None:
        for timer in live.timers.values():
            timer.cancel()
        live.timers.clear()
        for end in live.finishing.values():  # their runners write them the ordinary way
            end.settle(None)
        live.finishing.clear()
        if self._live.get(live.id) is live:
            del self._live[live.id]

    async def _apply_request(self, live: LiveWorkflow, status: str) -> None:
        """Tell the conductor (and the active children) to cancel, pause or resume; step."""
        conductor = live.conductor
        before = conductor.status
        logger.debug("workflow %s: %s requested while %s", live.id, status, before)
        with contextlib.suppress(WorkflowStatusError):
            conductor.request_status(status)
        if status == "paused":
            live.paused_by_request = True
        elif status == "resuming":
            live.paused_by_request = False
        if before == "paused" and status == "resuming":
            current = await self.store.executions.get(live.id)
            if current is not None and current.status in (S.PAUSED, S.PAUSING):
                await self.service.set_status(current, S.RESUMING)
        if conductor.status == before:
            logger.info("workflow %s: %s request while %s changes nothing", live.id, status, before)
            live.mirrored = None  # look at the status again after this step
        await self._step(live)
        await self._propagate(live, status)

    async def _propagate(self, live: LiveWorkflow, status: str) -> None:
        """Children hear it too: running workflows pause/resume, everything active cancels."""
        for child_id in self._active_children(live):
            child = await self.store.executions.get(child_id)
            if child is None or child.is_completed:
                continue
            nested = child.runner_type == RUNNER_TYPE
            try:
                if status == "canceled":
                    await self.service.cancel(child.id, user="workflow")
                elif nested and status == "paused" and child.status is S.RUNNING:
                    await self.service.pause(child.id)
                elif nested and status == "resuming" and child.status in (S.PAUSED, S.PAUSING):
                    await self.service.resume(child.id)
            except (ExecutionError, IllegalTransition) as exc:
                logger.info("workflow %s: child %s: %s", live.id, child.id, exc)

    def _active_children(self, live: LiveWorkflow) -> list[str]:
        return [child_id for _, _, _, child_id in named_children(live)]

    @staticmethod
    def _request_waiting(live: LiveWorkflow, current: Execution | None) -> str | None:
        """A cancel, pause or resume someone recorded in the execution's status (not the
        status this engine itself mirrored there last) that the conductor has not applied."""
        if current is None or (
            live.mirrored is not None and current.status is EXECUTION_STATUS.get(live.mirrored)
        ):
            return None
        return pending_request(current, live.conductor.status)

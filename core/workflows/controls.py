"""Cancel, pause and resume of a workflow (the service's controller), inquiries answered, rerun."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from core.executions.service import ExecutionError
from core.models import Execution
from core.workflows.conductor import WorkflowStatusError
from core.workflows.live import RUNNER_TYPE, apply_child
from core.workflows.shell import WorkflowShell

logger = logging.getLogger(__name__)


class WorkflowControls(WorkflowShell):
    """What operators and inquiries ask of a workflow; applied under its lock."""

    # -- pause, resume, cancel (the service's controller) ----------------------------------
    async def cancel(self, execution: Execution) -> None:
        await self._request(execution, "canceled")

    async def pause(self, execution: Execution) -> None:
        await self._request(execution, "paused")

    async def resume(self, execution: Execution) -> None:
        await self._request(execution, "resuming")

    async def _request(self, execution: Execution, status: str) -> None:
        if not self.service.is_serving:
            return  # recorded in the execution's status: the serving process applies it
        async with self._lock(execution.id):
            live = self._live.get(execution.id) or await self._load(execution)
            if live is None:
                return
            await self._apply_request(live, status)

    # -- inquiries ------------------------------------------------------------------------
    async def resume_after_answer(self, answered: Execution) -> None:
        """An inquiry of this workflow was answered (or timed out): apply it and, if the
        workflow paused only because it was waiting, carry on (st2 resumes the workflow)."""
        if answered.parent is None:
            return
        async with self._lock(answered.parent):
            live = self._live.get(answered.parent)
            if live is None:
                execution = await self.store.executions.get(answered.parent)
                if execution is None or execution.is_completed:
                    return
                live = await self._load(execution)
            if live is None:
                return
            live.inbox.pop(answered.id, None)
            apply_child(live, answered)
            state = live.state
            waiting = state.has_status(("pending", "paused"))
            if live.conductor.status == "paused" and not live.paused_by_request and not waiting:
                await self._apply_request(live, "resuming")
            else:
                await self._step(live)

    # -- rerun ----------------------------------------------------------------------------
    async def rerun(
        self, execution_id: str, *, tasks: Iterable[str] = (), no_reset: Iterable[str] = ()
    ) -> Execution:
        """Rerun a completed workflow: its failed tasks, or ``tasks`` (st2-format §10.9), in
        the same execution (it goes ``resuming`` → ``running``); with-items tasks named in
        ``no_reset`` keep their succeeded items."""
        async with self._lock(execution_id):
            execution = await self.store.executions.get(execution_id)
            if execution is None or execution.runner_type != RUNNER_TYPE:
                raise ExecutionError(f"execution {execution_id} is not a workflow execution")
            if not execution.is_completed:
                raise ExecutionError(
                    f"execution {execution_id} is {execution.status}; only a completed workflow "
                    "can be rerun"
                )
            stored = await self.store.workflows.load(execution.id)
            action = self.service.index.actions.get(execution.action_ref)
            definition = self.definitions.get(action)[0] if action else None
            if stored is None or definition is None:
                raise ExecutionError(f"workflow {execution_id} has no state or definition to rerun")
            live = self._restore(execution, definition, stored)
            try:
                live.conductor.request_rerun(list(tasks) or None, set(no_reset))
            except WorkflowStatusError as exc:
                raise ExecutionError(str(exc)) from None
            revived = execution.rerun().with_changes(owner=str(self.owner))
            if not await self.service.replace(execution, revived):
                raise ExecutionError(f"execution {execution_id} changed meanwhile; try again")
            self._live[execution.id] = live
            await self._step(live)
        return await self.store.executions.get(execution_id) or revived

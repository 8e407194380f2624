"""The execution service: request → (validate, render) → scheduled → running → completed.

Every step is persisted, and every status change is a compare-and-set on the store, so a
second process, a double click or a late runner can never overwrite a decision already made.
Intake goes through the store's claim/lease, so executions requested by another process (e.g.
``squall run --async``) are picked up by whichever ``squall serve`` is running.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from core.executions.api import execution_to_api
from core.executions.changes import ExecutionError, ExecutionOptions, S
from core.executions.hooks import ActionTokens, Controller, ExecutionObserver
from core.executions.intake import Admission, ExecutionIntake, mentions_kv
from core.executions.owner import OwnerId
from core.kv.service import KeyValueService
from core.models import Execution
from core.packs import ContentIndex
from core.params import ParameterError
from core.policies import PolicyGate, compile_policies
from core.runners.base import Runner
from core.store import Store

logger = logging.getLogger(__name__)

CANCELED_RESULT = {"message": "Action canceled by user."}


class ExecutionService(ExecutionIntake):
    """The public API: request (intake), run (dispatch), get, wait, cancel, pause, resume."""

    def __init__(
        self,
        store: Store,
        index: ContentIndex,
        runners: Mapping[str, Runner],
        options: ExecutionOptions | None = None,
        owner: OwnerId | None = None,
        kv: KeyValueService | None = None,
    ) -> None:
        super().__init__(store, index, runners, options or ExecutionOptions(), owner, kv)
        self.policies = PolicyGate(
            compile_policies(index.policies.values()),
            store,
            self.cas,
            self._request_retry,
            self._wakeup.set,
        )

    async def get(self, execution_id: str) -> Execution | None:
        return await self.store.executions.get(execution_id)

    def to_api(self, execution: Execution) -> dict[str, Any]:
        return execution_to_api(execution, self.index.actions.get(execution.action_ref))

    # -- cancel ---------------------------------------------------------------------------
    async def cancel(self, execution_id: str, user: str = "stanley") -> Execution:
        for _ in range(5):  # retry a lost CAS a few times: the status moved under us
            current = await self.store.executions.get(execution_id)
            if current is None:
                raise ExecutionError(f"execution {execution_id} not found")
            if current.is_completed or current.status is S.CANCELING:
                return current
            result = {**CANCELED_RESULT, "user": user}
            if current.status in (S.REQUESTED, S.DELAYED, S.SCHEDULED, S.PENDING) and (
                current.id not in self._running
            ):
                done = await self.cas(current, S.CANCELED, result=result)
            else:
                done = await self.cas(current, S.CANCELING)
                if done and (running := self._running.get(execution_id)):
                    running.cancel.set()
                if done and (controller := self.controllers.get(done.runner_type)):
                    await controller.cancel(done)
            if done:
                return done
        raise ExecutionError(f"execution {execution_id} kept changing; cancel not applied")

    async def pause(self, execution_id: str) -> Execution:
        """Ask a running workflow to pause (``pausing``; ``paused`` once nothing runs)."""
        current, controller = await self._controlled(execution_id, "paused")
        if current.status in (S.PAUSING, S.PAUSED):
            return current
        if current.status is not S.RUNNING:
            raise ExecutionError(f"execution {execution_id} is {current.status}; cannot pause")
        done = await self.cas(current, S.PAUSING)
        if done is None:
            raise ExecutionError(f"execution {execution_id} changed meanwhile; try again")
        await controller.pause(done)
        return await self.store.executions.get(execution_id) or done

    async def resume(self, execution_id: str) -> Execution:
        """Resume a paused (or pausing) workflow."""
        current, controller = await self._controlled(execution_id, "resumed")
        if current.status in (S.RUNNING, S.RESUMING):
            return current
        if current.status not in (S.PAUSED, S.PAUSING):
            raise ExecutionError(f"execution {execution_id} is {current.status}; cannot resume")
        if current.status is S.PAUSED:
            current = await self.cas(current, S.RESUMING) or current
        await controller.resume(current)
        return await self.store.executions.get(execution_id) or current

    async def _controlled(self, execution_id: str, verb: str) -> tuple[Execution, Controller]:
        current = await self.store.executions.get(execution_id)
        if current is None:
            raise ExecutionError(f"execution {execution_id} not found")
        controller = self.controllers.get(current.runner_type)
        if controller is None:
            raise ExecutionError(
                f"execution {execution_id} ({current.action_ref}) is not a workflow; only "
                f"workflows can be {verb}"
            )
        return current, controller


__all__ = [
    "ActionTokens",
    "Admission",
    "Controller",
    "ExecutionError",
    "ExecutionObserver",
    "ExecutionOptions",
    "ExecutionService",
    "ParameterError",
    "mentions_kv",
]

"""The workflow engine: the I/O shell around the pure conductor.

A workflow execution runs like any other until its runner (``orquesta``) hands it here and
returns "still running". Each task becomes a child execution through the ordinary service, so
policies, timeouts, masking and notify apply to tasks too. The write protocol makes a kill -9
at any point harmless:

1. Apply what happened (child status changes, a pause, a cancel) to the conductor.
2. Ask it for the next tasks; mark each running and name its child execution up front — the
   id is derived from (workflow, task entry, item, retry attempt), so it is the same however
   often this step is repeated.
3. Save the state (only what changed: the store's versioned head + records, compare-and-set).
4. Only then request the children; one that already exists is not requested again.
5. Mirror the conductor's status onto the workflow execution.

After a restart, ``recover`` loads every unfinished workflow and reconciles it with its
children: a child that finished while nobody listened is applied, a child named in the state
but never requested (a kill between 3 and 4) is requested now. Nothing runs twice, nothing is
skipped. Events for one workflow are applied by one drainer task at a time (the per-workflow
lock), in batches: many children finishing together cost one save.
"""

from __future__ import annotations

from core.executions.owner import OwnerId
from core.executions.service import ExecutionService
from core.kv.service import KeyValueService
from core.workflows.controls import WorkflowControls
from core.workflows.live import RUNNER_TYPE, child_execution_id, workflow_inputs
from core.workflows.recovery import WorkflowRecovery

__all__ = ["RUNNER_TYPE", "WorkflowEngine", "child_execution_id", "workflow_inputs"]


class WorkflowEngine(WorkflowControls, WorkflowRecovery):
    """Conducts workflow executions; the ``orquesta`` runner's controller.

    The pieces: ``live`` (pure steps over one workflow), ``shell`` (the I/O around them),
    ``controls`` (cancel, pause, resume, inquiries, rerun), ``recovery`` (after a restart).
    """

    def __init__(
        self,
        service: ExecutionService,
        *,
        kv: KeyValueService | None = None,
        owner: OwnerId | None = None,
    ) -> None:
        super().__init__(service, kv=kv, owner=owner)
        service.controllers[RUNNER_TYPE] = self

"""The workflow engine: the I/O shell around the pure conductor.

A workflow execution runs like any other until its runner (``orquesta``) hands it here and
returns "still running". Each task becomes a child execution through the ordinary service, so
policies, timeouts, masking and notify apply to tasks too. The write protocol makes a kill -9
at any point harmless:

1. Apply what happened (child status changes, a pause, a cancel) to the conductor. A task that
   ends while its workflow runs here, with no other of its tasks in flight and no step under
   way (a chain), hands its end to the engine (``finish_child``) instead of writing it: the
   step below writes it.
2. Ask it for the next tasks; mark each running and name its child execution up front — the
   id is derived from (workflow, task entry, item, retry attempt), so it is the same however
   often this step is repeated. Render and validate each child's parameters (not stored yet).
3. Write the step (``save_step``): the handed-over task ends (each a compare-and-set on the
   status its runner knew), then the state — only what changed: the store's versioned head +
   records, compare-and-set — then the children. One transaction on SQLite; that order on
   MongoDB. An end that lost its CAS (a cancel got there first) stops the step: nothing else
   is written, the ends go the ordinary way and the workflow is read again from the store.
4. Start the children that step inserted (one that already existed is not started again).
5. Mirror the conductor's status onto the workflow execution.

After a restart, ``recover`` loads every unfinished workflow and reconciles it with its
children: a child that finished while nobody listened is applied, a child named in the state
but never requested (MongoDB: a kill between the state and the children) is requested by the
next step. Nothing runs twice, nothing is skipped. Events for one workflow are applied by one
drainer task at a time (the per-workflow lock), in batches: many children finishing together
cost one step.
"""

from __future__ import annotations

from typing import Unpack

from core.executions.drivers import DriverOptions
from core.executions.service import ExecutionService
from core.workflows.controls import WorkflowControls
from core.workflows.live import RUNNER_TYPE, child_execution_id, workflow_inputs
from core.workflows.recovery import WorkflowRecovery

__all__ = ["RUNNER_TYPE", "WorkflowEngine", "child_execution_id", "workflow_inputs"]


class WorkflowEngine(WorkflowControls, WorkflowRecovery):
    """Conducts workflow executions; the ``orquesta`` runner's controller.

    The pieces: ``live`` (pure steps over one workflow), ``shell`` (the I/O around them),
    ``mirror`` (the workflow execution's own status), ``controls`` (cancel, pause, resume,
    inquiries, rerun), ``recovery`` (after a restart).
    """

    def __init__(self, service: ExecutionService, **options: Unpack[DriverOptions]) -> None:
        super().__init__(service, **options)
        service.controllers[RUNNER_TYPE] = self

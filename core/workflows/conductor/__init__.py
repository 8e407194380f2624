"""The workflow conductor: decides what runs next from what has happened. Pure, no I/O.

It follows Orquesta's conducting semantics (st2-format §10), because pack authors' workflows
depend on them — which transitions fire, how publishes merge, when a failure is remediated,
how routes split and joins wait — and they are what the conformance suite compares. The host
(the engine, or a test rehearsal) asks ``next_tasks()``, runs them elsewhere, and reports with
``update_task``; ``request_status`` pauses, resumes, cancels or fails the workflow. The state
(``WorkflowState``) is plain data; ``state.take_delta()`` is what a step changed.
"""

from __future__ import annotations

from core.workflows.conductor.base import (
    FAILED_MESSAGE,
    ActionRequest,
    TaskRequest,
    WorkflowStatusError,
)
from core.workflows.conductor.scheduling import Scheduling
from core.workflows.conductor.updates import TaskUpdates

__all__ = ["FAILED_MESSAGE", "ActionRequest", "Conductor", "TaskRequest", "WorkflowStatusError"]


class Conductor(TaskUpdates, Scheduling):
    """One workflow's conductor. Its phases: ``scheduling`` (what runs next), ``updates`` (a task
    reached a status), ``transitions`` (what that task's completion stages); ``base`` holds the
    state, the workflow's status, rerun and output."""

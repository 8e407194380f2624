"""Workflow and task status changes, as rules over the event's dimensions. Pure.

Orquesta spells these as 128 combined event names (``action_succeeded_task_dormant_items_
completed``); here an event is its dimensions — what happened (``status``), whether other work
is still in flight (``active``), and for with-items tasks and workflow completion, what the rest
looks like (``progress``) — and each status has a short rule. Every rule returns the new status,
or None for "no change". tests/workflows/test_machines_oracle.py checks these rules against
Orquesta's own tables for every event and status.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ABENDED",
    "ACTIVE",
    "CANCEL",
    "COMPLETED",
    "ITEM_EVENT_STATUSES",
    "PAUSE",
    "RUNNING_GROUP",
    "STARTING",
    "task_on_action",
    "task_on_engine",
    "task_on_workflow",
    "workflow_on_request",
    "workflow_on_task",
]

UNSET: Final = "null"
STARTING: Final = frozenset({"requested", "scheduled", "delayed", "running", "pending"})
RUNNING_GROUP: Final = frozenset(
    {"requested", "scheduled", "delayed", "running", "resuming", "retrying"}
)
ACTIVE: Final = frozenset(
    {"requested", "scheduled", "delayed", "running", "resuming", "pausing", "canceling"}
)
PAUSE: Final = frozenset({"pausing", "paused"})
CANCEL: Final = frozenset({"canceling", "canceled"})
ABENDED: Final = frozenset({"failed", "timeout", "abandoned"})
COMPLETED: Final = frozenset({"succeeded", "failed", "timeout", "abandoned", "canceled"})
# Item results that are judged against the task's other items (the rest is plain).
ITEM_EVENT_STATUSES: Final = frozenset(
    {"resuming", "pending", "paused", "succeeded", "failed", "timeout", "abandoned", "canceled"}
)
_STOPPED_ITEMS: Final = ("paused", "canceled", "failed")  # progress of a dormant items task


# -- tasks --------------------------------------------------------------------------------
_PLAIN_ACTION: Final[dict[str, dict[str, str]]] = {
    UNSET: {s: s for s in ("requested", "scheduled", "delayed", "running", "pending")},
    "requested": {
        **{s: s for s in ("scheduled", "delayed", "running", "pending", "pausing", "paused",
                          "canceling", "canceled", "failed", "timeout", "abandoned")},
    },
    "scheduled": {
        **{s: s for s in ("delayed", "running", "pending", "pausing", "paused", "canceling",
                          "canceled", "failed", "timeout", "abandoned")},
    },
    "delayed": {
        **{s: s for s in ("scheduled", "running", "pending", "pausing", "paused", "canceling",
                          "canceled", "failed", "timeout", "abandoned")},
    },
    "running": {
        **{s: s for s in ("running", "pending", "pausing", "paused", "canceling", "canceled",
                          "failed", "succeeded")},
        "timeout": "failed", "abandoned": "failed",
    },
    "pending": {"canceled": "canceled", "failed": "failed", "timeout": "failed",
                "abandoned": "failed", "succeeded": "succeeded"},
    "pausing": {"paused": "paused", "resuming": "resuming", "canceling": "canceling",
                "canceled": "canceled", "failed": "failed", "timeout": "failed",
                "abandoned": "failed"},
    "paused": {s: s for s in ("running", "resuming", "canceling", "canceled")},
    "resuming": {s: s for s in ("running", "canceling", "canceled")},
    "retrying": {s: s for s in ("running", "canceling", "canceled")},
    "canceling": {"paused": "canceled", "canceled": "canceled", "failed": "failed",
                  "timeout": "failed", "abandoned": "failed"},
}  # fmt: skip


def _items_from_running(status: str, active: bool, progress: str) -> str | None:
    if active:
        return {"pending": "pausing", "paused": "pausing", "canceled": "canceling",
                "succeeded": "running"}.get(status)  # fmt: skip
    return _dormant_items(status, progress, still_running="running")


def _items_from_pausing(status: str, active: bool, progress: str) -> str | None:
    if active:
        return None
    return _dormant_items(status, progress, still_running="paused")


def _dormant_items(status: str, progress: str, *, still_running: str) -> str | None:
    """An item ended while no other item is active; ``still_running``: the task's status when
    it succeeded and items are left."""
    if status in ("pending", "paused"):
        return {"canceled": "canceled", "failed": "failed"}.get(progress, "paused")
    if status == "canceled":
        return "canceled"
    if status in ABENDED:
        return "canceled" if progress == "canceled" else "failed"
    if status == "succeeded":
        return {"incomplete": still_running, "completed": "succeeded"}.get(progress, progress)
    return None


def _items_from_canceling(status: str, active: bool, progress: str) -> str | None:
    if active or status == "resuming":
        return None
    return "succeeded" if status == "succeeded" and progress == "completed" else "canceled"


_ITEMS_ACTION: Final = {
    "running": _items_from_running,
    "pausing": _items_from_pausing,
    "canceling": _items_from_canceling,
}


def task_on_action(
    current: str, status: str, *, items: tuple[bool, str] | None = None
) -> str | None:
    """A task's new status when its action (or one of its items) reports ``status``.

    ``items`` is (other items still active, progress of the other items: ``paused``,
    ``canceled``, ``failed``, ``incomplete`` or ``completed``) for a with-items task.
    """
    if items is not None and status in ITEM_EVENT_STATUSES:
        rule = _ITEMS_ACTION.get(current)
        return rule(status, *items) if rule else None
    return _PLAIN_ACTION.get(current, {}).get(status)


def task_on_engine(current: str, command: str) -> str | None:
    """``continue``/``noop`` succeed and ``fail`` fails a fresh entry; ``retry`` re-arms a
    completed one."""
    if current == UNSET:
        return {"continue": "succeeded", "noop": "succeeded", "fail": "failed"}.get(command)
    if current in ("succeeded", "failed") and command == "retry":
        return "retrying"
    return None


def task_on_workflow(
    current: str, workflow_status: str, *, items: tuple[bool, bool] | None = None
) -> str | None:
    """An active task's new status when the workflow is asked to pause or cancel.

    ``items`` is (some item active, some item not completed) for a with-items task; only
    those follow the workflow (a plain task's action is paused or canceled by the engine).
    """
    if current == "retrying" and workflow_status in CANCEL and items is None:
        return "canceled"
    if current != "running" or items is None or workflow_status not in PAUSE | CANCEL:
        return None
    active, incomplete = items
    if not incomplete:
        return None
    if workflow_status in PAUSE:
        return "pausing" if active else "paused"
    return "canceling" if active else "canceled"


# -- workflows ----------------------------------------------------------------------------
_CONDITIONAL: Final = frozenset({"pending", "paused", "succeeded", "failed", "remediated",
                                 "canceled", "retrying"})  # fmt: skip


def _on_done(current: str, active: bool, progress: str, remediated: bool) -> str | None:
    """A task succeeded (or failed but was remediated): what happens to the workflow."""
    if current == "running":
        if active:
            return {"paused": "pausing", "canceled": "canceling"}.get(progress, "running")
        return {"completed": "succeeded"}.get(
            progress, "running" if progress == "incomplete" else progress
        )
    if current == "pausing":
        if active:
            return "canceling" if remediated and progress == "canceled" else "pausing"
        return "canceled" if progress == "canceled" else "paused"
    if current == "resuming":
        if active:
            return "running" if progress in ("incomplete", "completed") else None
        return {"incomplete": "running", "completed": "succeeded"}.get(progress, progress)
    if current == "canceling":
        if active:
            return "canceling" if progress in ("incomplete", "completed") else None
        return "canceled"
    return None


def _pause_or_cancel(status: str, active: bool) -> str:
    if status in ("pending", "paused", "retrying"):
        return "pausing" if active else "paused"
    return "canceling" if active else "canceled"


def workflow_on_task(
    current: str, task_status: str, *, active: bool, progress: str, remediated: bool = False
) -> str | None:
    """The workflow's new status after a task reached ``task_status``.

    ``active``: some task is still in flight; ``progress``: ``canceled`` / ``paused`` (tasks
    are being canceled or paused), ``incomplete`` (tasks are staged or next), ``completed``.
    ``remediated``: the task failed but a transition handles it.
    """
    event = "remediated" if remediated else task_status
    if event in ("succeeded", "remediated"):
        return _on_done(current, active, progress, remediated)
    if current in ("running", "pausing", "resuming", "canceling"):
        if event == "failed":
            return (
                "canceling"
                if current == "canceling" and active
                else ("canceled" if current == "canceling" else "failed")
            )
        if event == "canceling":
            return None if current == "canceling" else "canceling"
        if event in ("pending", "canceled", "paused", "retrying"):
            return _task_pause_cancel(current, event, active)
        if event == "pausing" and current == "running":
            return "running"
        if event == "running" and current == "resuming":
            return "running"
        return None
    if current == "paused" and event in ("running", "resuming"):
        return "running"
    return None


def _task_pause_cancel(current: str, event: str, active: bool) -> str | None:
    if current == "canceling":
        return "canceling" if active else "canceled"
    if event == "canceled":
        return "canceling" if active else "canceled"
    if event == "paused" and current == "running":
        return "running" if active else "paused"
    if event == "paused" and current == "resuming":
        return None
    if event == "retrying" and current != "pausing":
        return None
    return "pausing" if active else "paused"


_BEFORE_RUNNING: Final = {
    UNSET: {"requested", "scheduled", "delayed", "running"},
    "requested": {"scheduled", "delayed", "running"},
    "scheduled": {"delayed", "running"},
    "delayed": {"scheduled", "running"},
}


def workflow_on_request(
    current: str, requested: str, *, active: bool, completed: bool
) -> str | None:
    """The workflow's new status when asked to become ``requested`` (run, pause, resume,
    cancel, fail, succeed). ``completed``: paused with nothing left to do (resume finishes)."""
    if requested == "failed":
        return "failed" if current not in ("canceled", "failed") else None
    if current in _BEFORE_RUNNING:
        if requested in _BEFORE_RUNNING[current]:
            return requested
        if current != UNSET and requested in PAUSE | CANCEL and not active:
            return "paused" if requested in PAUSE else "canceled"
        return None
    if current in ("running", "pausing", "resuming"):
        if requested in PAUSE:
            return "pausing" if active else "paused"
        if requested in CANCEL:
            return "canceling" if active else "canceled"
        if current == "running" and requested == "succeeded":
            return "succeeded"
        if current == "pausing" and requested in ("running", "resuming"):
            return requested
        if current == "resuming" and requested == "running":
            return "running"
        return None
    if current == "paused":
        if requested in ("running", "resuming"):
            return "succeeded" if completed else requested
        if requested in CANCEL and not active:
            return "canceled"
        return None
    if current == "canceling" and requested in CANCEL:
        return "canceling" if active else "canceled"
    return None

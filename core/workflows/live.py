"""One workflow this process conducts (``LiveWorkflow``), the child executions it names,
and the pure steps over them: apply a child's status, start a task, find named children.

No I/O here; ``core/workflows/shell.py`` does the reads and writes around these."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from core.executions.drivers import INHERITED_CONTEXT
from core.kv.decrypted import recording_decryptions
from core.models import Action, Execution, ExecutionStatus
from core.workflows.conductor import Conductor, TaskRequest, WorkflowStatusError
from core.workflows.definitions import WorkflowDefinition
from core.workflows.expressions import NOT_JSON, not_json_kind
from core.workflows.machines import COMPLETED as TASK_COMPLETED
from core.workflows.state import Entry, WorkflowState

logger = logging.getLogger(__name__)

S = ExecutionStatus


RUNNER_TYPE: Final = "orquesta"


# A child execution's status as its task sees it (None: not started yet, nothing to tell).
TASK_STATUS: Final[Mapping[ExecutionStatus, str | None]] = {
    S.REQUESTED: None, S.SCHEDULED: None, S.DELAYED: None, S.RUNNING: "running",
    S.PENDING: "pending", S.PAUSING: "pausing", S.PAUSED: "paused", S.RESUMING: "resuming",
    S.CANCELING: "canceling", S.CANCELED: "canceled", S.SUCCEEDED: "succeeded",
    S.FAILED: "failed", S.TIMEOUT: "timeout", S.ABANDONED: "abandoned",
}  # fmt: skip


# The workflow execution's status for each conductor status.
EXECUTION_STATUS: Final[Mapping[str, ExecutionStatus]] = {
    "requested": S.RUNNING, "scheduled": S.RUNNING, "running": S.RUNNING, "resuming": S.RUNNING,
    "pausing": S.PAUSING, "paused": S.PAUSED, "pending": S.PAUSED, "canceling": S.CANCELING,
    "canceled": S.CANCELED, "succeeded": S.SUCCEEDED, "failed": S.FAILED, "timeout": S.TIMEOUT,
    "abandoned": S.ABANDONED,
}  # fmt: skip


# A request recorded in the workflow execution's status → (what to ask the conductor, the
# conductor statuses in which it is not applied yet).
REQUESTS: Final[Mapping[ExecutionStatus, tuple[str, frozenset[str]]]] = {
    S.CANCELING: ("canceled", frozenset({"running", "resuming", "pausing", "paused"})),
    S.PAUSING: ("paused", frozenset({"running", "resuming"})),
    S.RESUMING: ("resuming", frozenset({"paused"})),
}


def pending_request(execution: Execution, conductor_status: str) -> str | None:
    """A cancel, pause or resume recorded in the workflow execution's status that a conductor
    in ``conductor_status`` has not applied yet."""
    wanted = REQUESTS.get(execution.status)
    if wanted is not None and conductor_status in wanted[1]:
        return wanted[0]
    return None


def child_execution_id(workflow_id: str, entry: int, item: int | None, attempt: int) -> str:
    """The id of a task's child execution: the same every time the same step is taken."""
    seed = f"{workflow_id}:{entry}:{'' if item is None else item}:{attempt}"
    return hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()[:24]


@dataclass
class LiveWorkflow:
    """One workflow this process is conducting."""

    id: str
    definition: WorkflowDefinition
    conductor: Conductor
    version: int
    context: dict[str, Any]  # the workflow execution's context (user, chat, parent, …)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    inbox: dict[str, Execution] = field(default_factory=dict)
    delays: dict[str, str] = field(default_factory=dict)  # route key → ISO time it may start
    paused_by_request: bool = False
    dirty: bool = False  # changed outside a step (a refused child): step again
    saved_head: dict[str, Any] | None = None
    mirrored: str | None = None  # the conductor status last mirrored onto the execution
    drainer: asyncio.Task[None] | None = None
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    # Secret strings this workflow holds (secret inputs, decrypted datastore values): its saved
    # state is sealed against them (core.store.sealing) and its children mask them.
    secrets: set[str] = field(default_factory=set)
    # Children named in the state but never requested (found by reconcile after a crash
    # between a save and its inserts, on a store without transactions): the next step.
    unrequested: list[ChildRequest] = field(default_factory=list)
    # Tasks' ends the service handed over (``WorkflowShell.finish_child``), by child id: the
    # next step writes each with the state it leads to.
    finishing: dict[str, Finishing] = field(default_factory=dict)
    # Children this process started for it and has not seen end (a hint, not state: empty
    # after a reload): a task's end waits for its step only when it is the last of them.
    in_flight: set[str] = field(default_factory=set)

    @property
    def state(self) -> WorkflowState:
        return self.conductor.state


@dataclass(frozen=True)
class ChildRequest:
    execution_id: str
    action: str
    input: Any
    task: str
    route: int
    entry: int
    item: int | None


@dataclass(frozen=True)
class Finishing:
    """A task's execution ending: as the service last stored it, as it ends, and the future
    its runner awaits (the end as stored, or None: not written by the step)."""

    current: Execution
    ended: Execution
    future: asyncio.Future[Execution | None]
    stored_status: ExecutionStatus  # what the store holds: its end's CAS expects it

    def settle(self, written: Execution | None) -> None:
        if not self.future.done():  # its runner's task may have been cancelled (shutdown)
            self.future.set_result(written)


@dataclass(frozen=True)
class Saved:
    """What one step wrote: anything at all, and which child executions it inserted."""

    wrote: bool
    inserted: frozenset[str] = frozenset()


def child_context(live: LiveWorkflow, request: ChildRequest) -> dict[str, Any]:
    """A task's execution context: what it inherits, its parent, where it is in the workflow."""
    context: dict[str, Any] = {
        key: live.context[key] for key in INHERITED_CONTEXT if key in live.context
    }
    context["parent"] = {
        "execution_id": live.id,
        "user": live.context.get("user"),
        "root": live.context.get("parent", {}).get("root", live.id),
    }
    context["orquesta"] = {
        "task_name": request.task, "task_id": request.task, "route": request.route,
        "entry": request.entry, "item_id": request.item, "workflow_execution_id": live.id,
    }  # fmt: skip
    return context


def workflow_inputs(parameters: Mapping[str, Any], action: Action | None) -> dict[str, Any]:
    """The workflow's runtime inputs: a parameter the caller omitted that has no default is
    absent (not ``null``), so the workflow's own input default applies."""
    declared = action.parameters if action is not None else {}
    return {
        name: value
        for name, value in parameters.items()
        if value is not None or "default" in (declared.get(name) or {})
    }


def unstorable_input(task_input: Any) -> str | None:
    """Why the task's rendered input cannot be stored (a set from ``ctx(d).keys()``), if so."""
    if not isinstance(task_input, Mapping):
        return None
    for name, value in task_input.items():
        kind = not_json_kind(value)
        if kind is not None:
            return f'input "{name}": ' + NOT_JSON.format(kind)
    return None


def drop_delays(live: LiveWorkflow) -> None:
    for handle in live.timers.values():
        handle.cancel()
    live.timers.clear()
    live.delays.clear()


def news(live: LiveWorkflow, child: Execution) -> tuple[Entry, int | None, str] | None:
    """What ``child``'s status tells its task that the conductor does not know yet: (entry,
    item, task status); None for old news (once old, news never again: a task's entry only
    moves on, a retry or a cycle names a new child)."""
    orquesta = child.context["orquesta"]
    index, item = int(orquesta["entry"]), orquesta.get("item_id")
    state = live.state
    if index >= len(state.sequence):
        return None
    entry = state.sequence[index]
    status = TASK_STATUS[child.status]
    if status is None:
        return None
    # The status first: most changes a workflow hears of (its task going running, an end
    # its step applied) are old news, told without the child id's hash below.
    if item is None:
        known = entry.status
    else:
        staged = state.staged_task(entry.id, entry.route)
        if staged is None or staged.items is None or item >= len(staged.items):
            return None
        known = staged.items[item]["status"]
    if known == status or known in TASK_COMPLETED:
        return None
    if state.index_of(entry.id, entry.route) != index:
        return None  # the task ran again since (a cycle)
    if child.id != child_id_of(live, index, entry, item):
        return None  # an earlier attempt of a retried task
    return entry, item, status


def apply_child(live: LiveWorkflow, child: Execution) -> bool:
    """Tell the conductor what ``child`` did, once; False if it was old news."""
    found = news(live, child)
    if found is None:
        return False
    entry, item, status = found
    result = child.result if child.is_completed else None
    live.secrets.update(s for s in child.secrets if s)  # its result may echo them
    try:
        with noting_secrets(live):  # a publish may decrypt a datastore value
            live.conductor.update_task(entry.id, entry.route, status, result, item_id=item)
    except (ValueError, WorkflowStatusError):
        logger.exception("workflow %s: task %s update refused", live.id, entry.id)
        return False
    return True


@contextmanager
def noting_secrets(live: LiveWorkflow) -> Iterator[None]:
    """Adds to ``live.secrets`` every datastore value decrypted while evaluating inside."""
    with recording_decryptions() as found:
        try:
            yield
        finally:
            live.secrets.update(found)


def child_id_of(live: LiveWorkflow, index: int, entry: Entry, item: int | None) -> str:
    attempt = int(entry.retry["tally"]) if entry.retry else 0
    return child_execution_id(live.id, index, item, attempt)


def start_task(live: LiveWorkflow, task: TaskRequest, out: list[ChildRequest]) -> bool:
    """Mark the task's actions running and name their children; True if it completed
    at once (no action, or no items)."""
    conductor = live.conductor
    if task.items_count == 0:
        conductor.update_task(task.id, task.route, "running")
        conductor.update_task(task.id, task.route, "succeeded", [])
        return True
    if task.items_count is None and task.actions and task.actions[0].action is None:
        conductor.update_task(task.id, task.route, "running")
        conductor.update_task(task.id, task.route, "succeeded", None)
        return True
    for action in task.actions:
        entry = conductor.update_task(task.id, task.route, "running", item_id=action.item_id)
        index = conductor.state.index_of(task.id, task.route)
        assert index is not None
        child_id = child_id_of(live, index, entry, action.item_id)
        # A single action's child is recorded on its entry (task() shows it); the ids of
        # items are derived, never stored: an entry of 5,000 items is not rewritten per item.
        if action.item_id is None and child_id not in entry.children:
            entry.children.append(child_id)
            conductor.state.touch(entry)
        out.append(ChildRequest(child_id, str(action.action), action.input, task.id,
                                 task.route, index, action.item_id))  # fmt: skip
    return False


def named_children(live: LiveWorkflow) -> list[tuple[int, Entry, int | None, str]]:
    """(entry index, entry, item, child id) of every child a task not yet completed has
    named: its single action's (recorded on the entry) or its started items'."""
    state = live.state
    found: list[tuple[int, Entry, int | None, str]] = []
    for index in list(state.latest.values()):
        entry = state.sequence[index]
        if entry.status in TASK_COMPLETED:
            continue
        staged = state.staged_task(entry.id, entry.route)
        items = staged.items if staged is not None else None
        if items is None:
            child_id = child_id_of(live, index, entry, None)
            if child_id in entry.children:
                found.append((index, entry, None, child_id))
            continue
        for item in range(len(items)):
            if items[item]["status"] not in ("null", *TASK_COMPLETED):
                found.append((index, entry, item, child_id_of(live, index, entry, item)))
    return found


def rerender(
    live: LiveWorkflow, entry: Entry, index: int, item: int | None, child_id: str
) -> ChildRequest:
    request = live.conductor.task_request(
        entry.id, entry.route, only=None if item is None else [item]
    )
    action = request.actions[0]
    return ChildRequest(child_id, str(action.action), action.input, entry.id, entry.route,
                         index, item)  # fmt: skip

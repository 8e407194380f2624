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

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from core.executions.faults import fault_point
from core.executions.owner import OwnerId
from core.executions.recovery import owner_is_gone
from core.executions.service import ExecutionError, ExecutionService
from core.kv.lookup import kv_context
from core.kv.service import KeyValueService
from core.models import COMPLETED, Action, Execution, ExecutionStatus, utcnow
from core.models.execution import isoformat, parse_ts
from core.models.status import IllegalTransition, transition_path
from core.packs import UnknownActionError
from core.params import ParameterError
from core.runners.base import RunnerResult
from core.store import ExecutionQuery
from core.store.base import DuplicateExecution, StoredWorkflow, WorkflowRecord
from core.workflows.conductor import Conductor, TaskRequest, WorkflowStatusError
from core.workflows.definitions import WorkflowDefinition, WorkflowDefinitions
from core.workflows.expressions import NOT_JSON, not_json_kind
from core.workflows.machines import COMPLETED as TASK_COMPLETED
from core.workflows.state import Entry, WorkflowState, route_key

__all__ = ["RUNNER_TYPE", "WorkflowEngine", "child_execution_id"]

logger = logging.getLogger(__name__)

S = ExecutionStatus
RUNNER_TYPE: Final = "orquesta"
POLL_SECONDS: Final = 2.0
LEASE: Final = timedelta(seconds=30)
# A child execution's status as its task sees it (None: not started yet, nothing to tell).
_TASK_STATUS: Final[Mapping[ExecutionStatus, str | None]] = {
    S.REQUESTED: None, S.SCHEDULED: None, S.DELAYED: None, S.RUNNING: "running",
    S.PENDING: "pending", S.PAUSING: "pausing", S.PAUSED: "paused", S.RESUMING: "resuming",
    S.CANCELING: "canceling", S.CANCELED: "canceled", S.SUCCEEDED: "succeeded",
    S.FAILED: "failed", S.TIMEOUT: "timeout", S.ABANDONED: "abandoned",
}  # fmt: skip
# The workflow execution's status for each conductor status.
_EXECUTION_STATUS: Final[Mapping[str, ExecutionStatus]] = {
    "requested": S.RUNNING, "scheduled": S.RUNNING, "running": S.RUNNING, "resuming": S.RUNNING,
    "pausing": S.PAUSING, "paused": S.PAUSED, "pending": S.PAUSED, "canceling": S.CANCELING,
    "canceled": S.CANCELED, "succeeded": S.SUCCEEDED, "failed": S.FAILED, "timeout": S.TIMEOUT,
    "abandoned": S.ABANDONED,
}  # fmt: skip


# What a task's execution inherits from its workflow's context (who, and where in chat).
_INHERITED: Final = (
    "user",
    "api_user",
    "chat",
    "action_alias_ref",
    "source_channel",
    "trace_context",
)


# A request recorded in the workflow execution's status → (what to ask the conductor, the
# conductor statuses in which it is not applied yet).
_REQUESTS: Final[Mapping[ExecutionStatus, tuple[str, frozenset[str]]]] = {
    S.CANCELING: ("canceled", frozenset({"running", "resuming", "pausing", "paused"})),
    S.PAUSING: ("paused", frozenset({"running", "resuming"})),
    S.RESUMING: ("resuming", frozenset({"paused"})),
}


def _pending_request(execution: Execution, conductor_status: str) -> str | None:
    """A cancel, pause or resume recorded in the workflow execution's status that a conductor
    in ``conductor_status`` has not applied yet."""
    wanted = _REQUESTS.get(execution.status)
    if wanted is not None and conductor_status in wanted[1]:
        return wanted[0]
    return None


def child_execution_id(workflow_id: str, entry: int, item: int | None, attempt: int) -> str:
    """The id of a task's child execution: the same every time the same step is taken."""
    seed = f"{workflow_id}:{entry}:{'' if item is None else item}:{attempt}"
    return hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()[:24]


@dataclass
class _Live:
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

    @property
    def state(self) -> WorkflowState:
        return self.conductor.state


@dataclass(frozen=True)
class _ChildRequest:
    execution_id: str
    action: str
    input: Any
    task: str
    route: int
    entry: int
    item: int | None


class WorkflowEngine:
    """Conducts workflow executions; the ``orquesta`` runner's controller."""

    def __init__(
        self,
        service: ExecutionService,
        *,
        kv: KeyValueService | None = None,
        owner: OwnerId | None = None,
    ) -> None:
        self.service = service
        self.store = service.store
        self.kv = kv
        self.owner = owner or service.owner
        self.definitions = WorkflowDefinitions(service.index)
        self._live: dict[str, _Live] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        service.controllers[RUNNER_TYPE] = self
        service.add_change_listener(self.on_child_change)

    # -- start ----------------------------------------------------------------------------
    async def start(self, execution_id: str) -> RunnerResult:
        """The runner's ``run``: begin (or, after a crash, continue) a workflow."""
        execution = await self.store.executions.get(execution_id)
        if execution is None:
            return RunnerResult(S.FAILED, {"error": f"execution {execution_id} vanished"})
        action = self.service.index.actions.get(execution.action_ref)
        if action is None:
            return RunnerResult(S.FAILED, {"error": f"action {execution.action_ref} is gone"})
        definition, _, errors = self.definitions.inspect(action)
        if definition is None:  # as st2: the inspection errors, sorted by kind and path
            return RunnerResult(S.FAILED, {"output": None, "errors": errors})
        async with self._lock(execution.id):
            live = self._live.get(execution.id) or await self._load(execution)
            if live is None:
                live = await self._begin(execution, definition)
            await self._step(live, mirror=True)
        return RunnerResult(S.RUNNING, {})

    async def _begin(self, execution: Execution, definition: WorkflowDefinition) -> _Live:
        context = {"st2": self._st2_context(execution)}
        if isinstance(execution.context.get("parent"), Mapping):
            context["parent"] = dict(execution.context["parent"])
        kv = await self._kv(definition, execution.context)
        inputs = workflow_inputs(
            execution.parameters, self.service.index.actions.get(execution.action_ref)
        )
        conductor = Conductor.start(definition.graph, inputs, context, kv=kv)
        if conductor.status != "failed":
            conductor.request_status("running")
        live = _Live(execution.id, definition, conductor, 0, dict(execution.context))
        self._live[execution.id] = live
        return live

    def _st2_context(self, execution: Execution) -> dict[str, Any]:
        ctx = execution.context
        return {
            "action_execution_id": execution.id, "workflow_execution_id": execution.id,
            "action": execution.action_ref, "runner": RUNNER_TYPE, "pack": ctx.get("pack"),
            "user": ctx.get("user"), "api_user": ctx.get("api_user"),
            "api_url": self.service.options.api_url,
        }  # fmt: skip

    async def _kv(
        self, definition: WorkflowDefinition, context: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        if self.kv is None or not definition.mentions_kv:
            return None
        return await kv_context(self.kv, context.get("api_user") or context.get("user"))

    # -- events ---------------------------------------------------------------------------
    async def on_child_change(self, child: Execution) -> None:
        """Service listener: a task's execution changed status."""
        orquesta = child.context.get("orquesta")
        if child.parent is None or not isinstance(orquesta, Mapping):
            return
        live = self._live.get(child.parent)
        if live is None:
            parent = await self.store.executions.get(child.parent)
            if parent is None or parent.runner_type != RUNNER_TYPE or parent.is_completed:
                return
            async with self._lock(parent.id):
                live = self._live.get(parent.id) or await self._load(parent)
            if live is None:
                return
        live.inbox[child.id] = child
        self._drain_soon(live)

    def _drain_soon(self, live: _Live) -> None:
        if live.drainer is None or live.drainer.done():
            live.drainer = self._spawn(self._drain(live), f"workflow-{live.id}")

    async def _drain(self, live: _Live) -> None:
        async with self._lock(live.id):
            if self._live.get(live.id) is not live:
                return
            while live.inbox or live.dirty:
                batch, live.inbox, live.dirty = live.inbox, {}, False
                for child in batch.values():
                    self._apply_child(live, child)
                await self._step(live)

    def _apply_child(self, live: _Live, child: Execution) -> bool:
        """Tell the conductor what ``child`` did, once; False if it was old news."""
        orquesta = child.context["orquesta"]
        index, item = int(orquesta["entry"]), orquesta.get("item_id")
        state = live.state
        if index >= len(state.sequence):
            return False
        entry = state.sequence[index]
        if state.index_of(entry.id, entry.route) != index:
            return False  # the task ran again since (a cycle)
        if child.id != self._child_id(live, index, entry, item):
            return False  # an earlier attempt of a retried task
        status = _TASK_STATUS[child.status]
        if status is None:
            return False
        if item is None:
            known = entry.status
        else:
            staged = state.staged_task(entry.id, entry.route)
            if staged is None or staged.items is None or item >= len(staged.items):
                return False
            known = staged.items[item]["status"]
        if known == status or known in TASK_COMPLETED:
            return False
        result = child.result if child.is_completed else None
        try:
            live.conductor.update_task(entry.id, entry.route, status, result, item_id=item)
        except (ValueError, WorkflowStatusError):
            logger.exception("workflow %s: task %s update refused", live.id, entry.id)
            return False
        return True

    def _child_id(self, live: _Live, index: int, entry: Entry, item: int | None) -> str:
        attempt = int(entry.retry["tally"]) if entry.retry else 0
        return child_execution_id(live.id, index, item, attempt)

    # -- one step -------------------------------------------------------------------------
    async def _step(self, live: _Live, *, mirror: bool = False) -> None:
        """Start what can start, save, request the children, mirror the status (under lock).
        ``mirror``: look at the execution's status even if the conductor's did not change (a
        workflow just loaded, or a request from another process may be waiting)."""
        if live.definition.mentions_kv:
            live.conductor.kv = await self._kv(live.definition, live.context)
        requests = self._schedule(live)
        live.conductor.render_output()  # once completed; saved before the status says so
        saved = await self._save(live)
        if saved is None:
            return  # another process moved the workflow: reloaded from the store
        for request in requests:
            await self._request_child(live, request)
        if self._live.get(live.id) is not live:
            return
        # Only after a change of status: a stale copy must never overwrite the status, and
        # reading the execution (its parameters can be large) on every step would cost O(n).
        if mirror or (saved and live.conductor.status != live.mirrored):
            await self._mirror(live)

    def _schedule(self, live: _Live) -> list[_ChildRequest]:
        conductor = live.conductor
        requests: list[_ChildRequest] = []
        for _ in range(100_000):  # action-less tasks complete at once and stage more
            immediate = False
            for task in conductor.next_tasks():
                if self._delayed(live, task):
                    continue
                immediate |= self._start_task(live, task, requests)
            if not immediate:
                break
        return requests

    def _delayed(self, live: _Live, task: TaskRequest) -> bool:
        key = route_key(task.id, task.route)
        if not task.delay or task.delay <= 0:
            live.delays.pop(key, None)
            return False
        now = utcnow()
        due = parse_ts(live.delays.get(key))
        if due is None:
            due = now + timedelta(seconds=task.delay)
            live.delays[key] = isoformat(due) or ""
        if due <= now:
            live.delays.pop(key, None)
            return False
        self._wake_at(live, key, due)
        return True

    def _wake_at(self, live: _Live, key: str, due: datetime) -> None:
        if key in live.timers:
            return
        delay = max(0.0, (due - utcnow()).total_seconds())
        loop = asyncio.get_running_loop()
        live.timers[key] = loop.call_later(delay, self._delay_over, live, key)

    def _delay_over(self, live: _Live, key: str) -> None:
        live.timers.pop(key, None)
        if self._live.get(live.id) is live and not self._closed:
            self._spawn(self._advance(live), f"workflow-delay-{live.id}")

    async def _advance(self, live: _Live, *, mirror: bool = False) -> None:
        async with self._lock(live.id):
            if self._live.get(live.id) is live:
                await self._step(live, mirror=mirror)

    def _start_task(self, live: _Live, task: TaskRequest, out: list[_ChildRequest]) -> bool:
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
            child_id = self._child_id(live, index, entry, action.item_id)
            # A single action's child is recorded on its entry (task() shows it); the ids of
            # items are derived, never stored: an entry of 5,000 items is not rewritten per item.
            if action.item_id is None and child_id not in entry.children:
                entry.children.append(child_id)
                conductor.state.touch(entry)
            out.append(_ChildRequest(child_id, str(action.action), action.input, task.id,
                                     task.route, index, action.item_id))  # fmt: skip
        return False

    async def _request_child(self, live: _Live, request: _ChildRequest) -> None:
        orquesta = {"task_name": request.task, "task_id": request.task, "route": request.route,
                    "entry": request.entry, "item_id": request.item,
                    "workflow_execution_id": live.id}  # fmt: skip
        context: dict[str, Any] = {
            key: live.context[key] for key in _INHERITED if key in live.context
        }
        context["parent"] = {
            "execution_id": live.id,
            "user": live.context.get("user"),
            "root": live.context.get("parent", {}).get("root", live.id),
        }
        context["orquesta"] = orquesta
        unstorable = _unstorable_input(request.input)
        if unstorable is not None:
            await self._refused_child(live, request, ValueError(unstorable))
            return
        try:
            await self.service.request(
                request.action, request.input if isinstance(request.input, Mapping) else {},
                context=context, render_live=False, parent=live.id,
                execution_id=request.execution_id,
            )  # fmt: skip
            fault_point(f"workflow child requested {request.task}")
        except DuplicateExecution:
            return  # requested before a crash: its events arrive (or reconcile finds it)
        except (ParameterError, UnknownActionError, ExecutionError, ValueError) as exc:
            await self._refused_child(live, request, exc)

    async def _refused_child(self, live: _Live, request: _ChildRequest, exc: Exception) -> None:
        """A task whose action cannot even be requested fails, with the reason."""
        error = f"{type(exc).__name__}: {exc}"
        logger.warning("workflow %s: task %s not started: %s", live.id, request.task, error)
        live.conductor.update_task(
            request.task, request.route, "failed", {"error": error}, item_id=request.item
        )
        live.dirty = True  # the failure may stage remediation: one more step
        self._drain_soon(live)

    async def _save(self, live: _Live) -> bool | None:
        """True: saved; False: nothing changed, nothing written; None: lost the CAS."""
        delta = live.state.take_delta()
        head = {"conductor": delta.head, "delays": dict(live.delays),
                "paused_by_request": live.paused_by_request}  # fmt: skip
        records = [WorkflowRecord(kind, key, doc) for kind, key, doc in delta.records()]
        if not records and head == live.saved_head:
            return False  # nothing changed (a child went running): no write
        live.saved_head = head
        repo = self.store.workflows
        if live.version == 0:
            saved = await repo.create(live.id, head, records)
        else:
            saved = await repo.save(live.id, expected_version=live.version, head=head,
                                    records=records)  # fmt: skip
        if saved:
            live.version += 1
            fault_point(f"workflow state saved v{live.version}")
            return True
        # Someone else moved this workflow (another process): start over from the store, and
        # re-read the children, so nothing this step applied is lost.
        logger.warning("workflow %s: state changed elsewhere; reloading", live.id)
        self._forget(live)
        self._spawn(self._readopt(live.id), f"workflow-reload-{live.id}")
        return None

    async def _readopt(self, workflow_id: str) -> None:
        async with self._lock(workflow_id):
            execution = await self.store.executions.get(workflow_id)
            if execution is None or execution.is_completed or workflow_id in self._live:
                return
            live = await self._load(execution)
            if live is not None:
                await self._reconcile(live)
                await self._step(live, mirror=True)

    # -- the workflow execution's own status ------------------------------------------------
    async def _mirror(self, live: _Live) -> None:
        conductor = live.conductor
        current = await self.store.executions.get(live.id)
        requested = self._request_waiting(live, current)
        if requested is not None:
            # A cancel, pause or resume recorded in the status (e.g. by another process's
            # CLI) that the conductor has not heard yet: apply it, never overwrite it.
            await self._apply_request(live, requested)
            return
        target = _EXECUTION_STATUS.get(conductor.status)
        if target is None:
            return
        if conductor.status in ("canceling", "canceled"):
            _drop_delays(live)  # a task still waiting on its delay never starts now
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
            if await self._move(current, target, conductor):
                break
        if target in COMPLETED:
            await self._finished(live)

    async def _move(
        self, current: Execution, target: ExecutionStatus, conductor: Conductor
    ) -> bool:
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
            moved = await self.service.set_status(current, status, **changes)
            if moved is None:
                return False
            current = moved
        return True

    async def _finished(self, live: _Live) -> None:
        self._forget(live)
        with contextlib.suppress(Exception):
            await self.store.workflows.compact(live.id)

    def _forget(self, live: _Live) -> None:
        for timer in live.timers.values():
            timer.cancel()
        live.timers.clear()
        if self._live.get(live.id) is live:
            del self._live[live.id]

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

    async def _apply_request(self, live: _Live, status: str) -> None:
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

    async def _propagate(self, live: _Live, status: str) -> None:
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

    def _active_children(self, live: _Live) -> list[str]:
        return [child_id for _, _, _, child_id in self._named_children(live)]

    def _named_children(self, live: _Live) -> list[tuple[int, Entry, int | None, str]]:
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
                child_id = self._child_id(live, index, entry, None)
                if child_id in entry.children:
                    found.append((index, entry, None, child_id))
                continue
            for item in range(len(items)):
                if items[item]["status"] not in ("null", *TASK_COMPLETED):
                    found.append((index, entry, item, self._child_id(live, index, entry, item)))
        return found

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
            self._apply_child(live, answered)
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

    # -- loading and recovery -------------------------------------------------------------
    def _lock(self, workflow_id: str) -> asyncio.Lock:
        lock = self._locks.get(workflow_id)
        if lock is None:
            lock = self._locks[workflow_id] = asyncio.Lock()
            if len(self._locks) > 10_000:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
                self._locks[workflow_id] = lock
        return lock

    async def _load(self, execution: Execution) -> _Live | None:
        stored = await self.store.workflows.load(execution.id)
        if stored is None:
            return None
        action = self.service.index.actions.get(execution.action_ref)
        definition = self.definitions.get(action)[0] if action else None
        if definition is None:
            return None
        live = self._restore(execution, definition, stored)
        self._live[execution.id] = live
        for key, due in live.delays.items():
            stamp = parse_ts(due)
            if stamp is not None:
                self._wake_at(live, key, stamp)
        return live

    def _restore(
        self, execution: Execution, definition: WorkflowDefinition, stored: StoredWorkflow
    ) -> _Live:
        records = [(r.kind, r.key, r.doc) for r in stored.records]
        state = WorkflowState.restore(stored.head["conductor"], records)
        kv = None  # refreshed below when the workflow reads the datastore
        conductor = Conductor(definition.graph, state, kv=kv)
        live = _Live(execution.id, definition, conductor, stored.version, dict(execution.context))
        live.delays = dict(stored.head.get("delays") or {})
        live.paused_by_request = bool(stored.head.get("paused_by_request"))
        return live

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

    async def _reconcile(self, live: _Live) -> None:
        """Apply what children did while nobody listened; request children never requested."""
        missing: list[_ChildRequest] = []
        for index, entry, item, child_id in self._named_children(live):
            child = await self.store.executions.get(child_id)
            if child is None:
                missing.append(self._rerender(live, entry, index, item, child_id))
            else:
                self._apply_child(live, child)
        for request in missing:
            await self._request_child(live, request)

    def _rerender(
        self, live: _Live, entry: Entry, index: int, item: int | None, child_id: str
    ) -> _ChildRequest:
        request = live.conductor.task_request(
            entry.id, entry.route, only=None if item is None else [item]
        )
        action = request.actions[0]
        return _ChildRequest(child_id, str(action.action), action.input, entry.id, entry.route,
                             index, item)  # fmt: skip

    # -- background -----------------------------------------------------------------------
    def _spawn(self, work: Any, name: str) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.create_task(self._guard(work), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @staticmethod
    async def _guard(work: Any) -> None:
        try:
            await work
        except Exception:
            logger.exception("workflow step failed")

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

    @staticmethod
    def _request_waiting(live: _Live, current: Execution | None) -> str | None:
        """A cancel, pause or resume someone recorded in the execution's status (not the
        status this engine itself mirrored there last) that the conductor has not applied."""
        if current is None or (
            live.mirrored is not None and current.status is _EXECUTION_STATUS.get(live.mirrored)
        ):
            return None
        return _pending_request(current, live.conductor.status)

    async def close(self) -> None:
        self._closed = True
        for live in list(self._live.values()):
            for timer in live.timers.values():
                timer.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)


def workflow_inputs(parameters: Mapping[str, Any], action: Action | None) -> dict[str, Any]:
    """The workflow's runtime inputs: a parameter the caller omitted that has no default is
    absent (not ``null``), so the workflow's own input default applies."""
    declared = action.parameters if action is not None else {}
    return {
        name: value
        for name, value in parameters.items()
        if value is not None or "default" in (declared.get(name) or {})
    }


def _unstorable_input(task_input: Any) -> str | None:
    """Why the task's rendered input cannot be stored (a set from ``ctx(d).keys()``), if so."""
    if not isinstance(task_input, Mapping):
        return None
    for name, value in task_input.items():
        kind = not_json_kind(value)
        if kind is not None:
            return f'input "{name}": ' + NOT_JSON.format(kind)
    return None


def _drop_delays(live: _Live) -> None:
    for handle in live.timers.values():
        handle.cancel()
    live.timers.clear()
    live.delays.clear()

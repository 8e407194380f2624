"""The workflow engine's I/O shell around the pure conductor: start a workflow, apply
its children's events, step (schedule, save, request children, mirror the status),
load and reconcile. The write protocol is described in ``core/workflows/engine.py``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, Unpack

from core.executions.drivers import ChildDriver, DriverOptions
from core.executions.faults import fault_point
from core.executions.service import ExecutionError, ExecutionService
from core.kv.decrypted import recording_decryptions
from core.kv.lookup import kv_context
from core.models import Execution, utcnow
from core.models.execution import isoformat, parse_ts
from core.packs import UnknownActionError
from core.params import ParameterError
from core.runners.base import RunnerResult
from core.store.base import ChildCompletion, StepWrite, StoredWorkflow, WorkflowRecord
from core.store.sealing import SECRETS
from core.workflows.conductor import Conductor, TaskRequest
from core.workflows.definitions import WorkflowDefinition, WorkflowDefinitions
from core.workflows.live import (
    RUNNER_TYPE,
    ChildRequest,
    Finishing,
    LiveWorkflow,
    S,
    Saved,
    apply_child,
    child_context,
    named_children,
    news,
    noting_secrets,
    rerender,
    start_task,
    unstorable_input,
    workflow_inputs,
)
from core.workflows.mirror import WorkflowStatusMirror
from core.workflows.state import WorkflowState, route_key

logger = logging.getLogger(__name__)

POLL_SECONDS: Final = 2.0
LEASE: Final = timedelta(seconds=30)


class WorkflowShell(ChildDriver, WorkflowStatusMirror):
    """The I/O shell around the conductor: start, apply events, step, save, mirror, load."""

    log = logger
    step_failed = "workflow step failed"

    def __init__(self, service: ExecutionService, **options: Unpack[DriverOptions]) -> None:
        super().__init__(service, **options)
        self.definitions = WorkflowDefinitions(service.index)
        self._live: dict[str, LiveWorkflow] = {}
        self._closed = False
        service.add_change_listener(
            self.on_child_change, wants=self._wants_change, at_once=self._heard_at_once
        )
        service.child_finisher = self.finish_child
        service.child_in_memory = _is_workflow_task

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

    async def _begin(self, execution: Execution, definition: WorkflowDefinition) -> LiveWorkflow:
        context = {"st2": self._st2_context(execution)}
        if isinstance(execution.context.get("parent"), Mapping):
            context["parent"] = dict(execution.context["parent"])
        kv = await self._kv(definition, execution.context)
        inputs = workflow_inputs(
            execution.parameters, self.service.index.actions.get(execution.action_ref)
        )
        with recording_decryptions() as decrypted:  # vars may read datastore secrets
            conductor = Conductor.start(definition.graph, inputs, context, kv=kv)
        if conductor.status != "failed":
            conductor.request_status("running")
        live = LiveWorkflow(execution.id, definition, conductor, 0, dict(execution.context))
        live.secrets.update(s for s in (*execution.secrets, *decrypted) if s)
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
        self._heard(live, child)

    def _heard_at_once(self, child: Execution) -> bool:
        """``on_child_change`` without a task of its own when the workflow is loaded here
        (all of it is synchronous then); False: loading it needs the listener's task."""
        live = self._live.get(child.parent) if child.parent is not None else None
        if live is None:
            return False
        self._heard(live, child)
        return True

    def _heard(self, live: LiveWorkflow, child: Execution) -> None:
        if child.is_completed:
            live.in_flight.discard(child.id)
        if news(live, child) is None:
            return  # e.g. a task going running, or an end its step wrote: no drain for it
        live.inbox[child.id] = child
        self._drain_soon(live)

    def _wants_change(self, child: Execution) -> bool:
        """Whether ``on_child_change`` has anything to do for ``child`` (no task otherwise): a
        task of a workflow not loaded here, or news for one that is. Old news stays old."""
        if child.parent is None or not isinstance(child.context.get("orquesta"), Mapping):
            return False
        live = self._live.get(child.parent)
        if live is None or (child.is_completed and child.id in live.in_flight):
            return True
        return news(live, child) is not None

    async def on_abandoned_child(self, child: Execution) -> None:
        """A task the takeover sweep abandoned (its process died), written straight to the
        store: no status-change event reached this engine. A workflow already taken up here
        (while that task still looked alive) gets the news now; one not running here reads the
        task's status when ``recover`` takes it up."""
        if child.parent is not None and child.parent in self._live:
            await self.on_child_change(child)

    async def finish_child(self, current: Execution, ended: Execution) -> Execution | None:
        """The service's ``child_finisher``: a task of a workflow running here ends in the step
        it triggers, written with that step's state and children in one transaction. None:
        not this engine's to write (the service writes it, and the workflow hears of it)."""
        live = self._live.get(current.parent) if current.parent is not None else None
        if live is not None:
            live.in_flight.discard(current.id)
        if (
            live is None
            or self._closed
            # Others still run (a fan-out, items): the ends batch up as events, and none holds
            # its concurrency slot while waiting for a step.
            or live.in_flight
            or ended.status is S.CANCELED  # a cancel is under way: the ordinary path
            or live.conductor.status != "running"
            # A step in flight: waiting for the next one would hold the task's concurrency
            # slot meanwhile; written at once, it joins the next step's batch as an event.
            or self._lock(live.id).locked()
            or not isinstance(current.context.get("orquesta"), Mapping)
        ):
            return None
        # A task run in memory (core.noop) is still ``requested`` in the store.
        hidden = self.service.unstored.get(current.id)
        stored = hidden[1] if hidden is not None and hidden[0] is current.status else None
        future = asyncio.get_running_loop().create_future()
        end = Finishing(current, ended, future, stored or current.status)
        live.finishing[current.id] = end
        if live.drainer is None or live.drainer.done():
            # No step under way or due (the lock is free): this task takes the step itself,
            # rather than start a drainer task and wait for it (a chain's every task did).
            await self._guard(self._drain(live))
        else:
            self._drain_soon(live)
        return await end.future

    def _drain_soon(self, live: LiveWorkflow) -> None:
        if live.drainer is None or live.drainer.done():
            live.drainer = self._spawn(self._drain(live), f"workflow-{live.id}")

    async def _drain(self, live: LiveWorkflow) -> None:
        taken: list[Finishing] = []
        try:
            async with self._lock(live.id):
                if self._live.get(live.id) is not live:
                    return
                while live.inbox or live.dirty or live.finishing:
                    dirty = live.dirty or bool(live.unrequested) or bool(live.finishing)
                    batch, live.inbox, live.dirty = live.inbox, {}, False
                    ending, live.finishing = list(live.finishing.values()), {}
                    taken += ending
                    changed = [apply_child(live, child) for child in batch.values()]
                    for end in ending:
                        apply_child(live, end.ended)
                    if any(changed) or dirty:
                        await self._step(live, ending=ending)  # old news only: no step
        finally:
            self._unwritten(live, taken)

    def _unwritten(self, live: LiveWorkflow, taken: list[Finishing]) -> None:
        """Ends a step applied but did not write (it failed, or lost a CAS): their runners
        write them the ordinary way, and this copy of the workflow, which has applied them, is
        dropped and read again from the store."""
        unwritten = [end for end in taken if not end.future.done()]
        for end in unwritten:
            end.settle(None)
        if unwritten and self._live.get(live.id) is live:
            self._forget(live)
            self._spawn(self._readopt(live.id), f"workflow-reload-{live.id}")

    # -- one step -------------------------------------------------------------------------
    async def _step(
        self, live: LiveWorkflow, *, mirror: bool = False, ending: Sequence[Finishing] = ()
    ) -> None:
        """Start what can start, save (with the tasks' ``ending`` applied before), request the
        children, mirror the status (under lock). ``mirror``: look at the execution's status
        even if the conductor's did not change (a workflow just loaded, or a request from
        another process may be waiting)."""
        if live.definition.mentions_kv:
            live.conductor.kv = await self._kv(live.definition, live.context)
        with noting_secrets(live):  # task inputs, publishes and output may decrypt
            requests = [*live.unrequested, *self._schedule(live)]
            live.unrequested.clear()
            live.conductor.render_output()  # once completed; saved before the status says so
        children = await self._prepare_children(live, requests)
        saved = await self._save(live, [child for child, _ in children], ending)
        if saved is None:
            return  # another process moved the workflow: reloaded from the store
        for child, request in children:
            if child.id in saved.inserted:  # else requested before a crash: not started twice
                live.in_flight.add(child.id)
                self.service.start_soon(child)
                fault_point(f"workflow child requested {request.task}")
        if self._live.get(live.id) is not live:
            return
        # Only after a change of status: a stale copy must never overwrite the status, and
        # reading the execution (its parameters can be large) on every step would cost O(n).
        # A mirror put off until the next step (``mirrored`` None) is done even when that step
        # wrote nothing: a task refused at request time fails the workflow with no more to save.
        if (
            mirror
            or live.mirrored is None
            or (saved.wrote and live.conductor.status != live.mirrored)
        ):
            await self._mirror(live)

    def _schedule(self, live: LiveWorkflow) -> list[ChildRequest]:
        conductor = live.conductor
        requests: list[ChildRequest] = []
        for _ in range(100_000):  # action-less tasks complete at once and stage more
            immediate = False
            for task in conductor.next_tasks():
                if self._delayed(live, task):
                    continue
                immediate |= start_task(live, task, requests)
            if not immediate:
                break
        return requests

    def _delayed(self, live: LiveWorkflow, task: TaskRequest) -> bool:
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

    def _wake_at(self, live: LiveWorkflow, key: str, due: datetime) -> None:
        if key in live.timers:
            return
        delay = max(0.0, (due - utcnow()).total_seconds())
        loop = asyncio.get_running_loop()
        live.timers[key] = loop.call_later(delay, self._delay_over, live, key)

    def _delay_over(self, live: LiveWorkflow, key: str) -> None:
        live.timers.pop(key, None)
        if self._live.get(live.id) is live and not self._closed:
            self._spawn(self._advance(live), f"workflow-delay-{live.id}")

    async def _advance(self, live: LiveWorkflow, *, mirror: bool = False) -> None:
        async with self._lock(live.id):
            if self._live.get(live.id) is live:
                await self._step(live, mirror=mirror)

    async def _prepare_children(
        self, live: LiveWorkflow, requests: list[ChildRequest]
    ) -> list[tuple[Execution, ChildRequest]]:
        """The child executions of ``requests``, validated and rendered, not stored yet (the
        step's save stores them with the state); a refused one fails its task at once."""
        prepared: list[tuple[Execution, ChildRequest]] = []
        for request in requests:
            unstorable = unstorable_input(request.input)
            if unstorable is not None:
                await self._refused_child(live, request, ValueError(unstorable))
                continue
            task_input = request.input if isinstance(request.input, Mapping) else {}
            try:
                child = await self.service.prepare(
                    request.action, task_input, context=child_context(live, request),
                    render_live=False, parent=live.id, execution_id=request.execution_id,
                    known_secrets=sorted(live.secrets),
                )  # fmt: skip
            except (ParameterError, UnknownActionError, ExecutionError, ValueError) as exc:
                await self._refused_child(live, request, exc)
                continue
            prepared.append((child, request))
        return prepared

    async def _refused_child(
        self, live: LiveWorkflow, request: ChildRequest, exc: Exception
    ) -> None:
        """A task whose action cannot even be requested fails, with the reason."""
        error = f"{type(exc).__name__}: {exc}"
        logger.warning("workflow %s: task %s not started: %s", live.id, request.task, error)
        with noting_secrets(live):  # its transitions may publish decrypted values
            live.conductor.update_task(
                request.task, request.route, "failed", {"error": error}, item_id=request.item
            )
        live.dirty = True  # the failure may stage remediation: one more step
        self._drain_soon(live)

    async def _save(
        self, live: LiveWorkflow, children: list[Execution], ending: Sequence[Finishing]
    ) -> Saved | None:
        """Write the tasks' ends, save what changed and insert ``children``, in one step (one
        transaction on SQLite); None: lost a CAS (reloaded from the store)."""
        delta = live.state.take_delta()
        head = {"conductor": delta.head, "delays": dict(live.delays),
                "paused_by_request": live.paused_by_request}  # fmt: skip
        if live.secrets:  # the store seals the state against them (core.store.sealing)
            head[SECRETS] = sorted(live.secrets)
        records = [WorkflowRecord(kind, key, doc) for kind, key, doc in delta.records()]
        if not records and not children and not ending and head == live.saved_head:
            return Saved(wrote=False)  # nothing changed: no write
        live.saved_head = head
        written = await self.store.workflows.save_step(live.id, StepWrite(
            live.version, head, records, children,
            completed=[ChildCompletion(end.ended, end.stored_status) for end in ending],
        ))  # fmt: skip
        for end in ending:
            if end.ended.id in written.completed:
                self.service.changed(end.ended)
                end.settle(end.ended)
        if written.saved:
            live.version += 1
            fault_point(f"workflow state saved v{live.version}")
            return Saved(wrote=True, inserted=written.inserted)
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

    # -- loading and recovery -------------------------------------------------------------
    async def _load(self, execution: Execution) -> LiveWorkflow | None:
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
    ) -> LiveWorkflow:
        records = [(r.kind, r.key, r.doc) for r in stored.records]
        state = WorkflowState.restore(stored.head["conductor"], records)
        kv = None  # refreshed below when the workflow reads the datastore
        conductor = Conductor(definition.graph, state, kv=kv)
        live = LiveWorkflow(
            execution.id, definition, conductor, stored.version, dict(execution.context)
        )
        live.delays = dict(stored.head.get("delays") or {})
        known = (*execution.secrets, *(stored.head.get(SECRETS) or ()))
        live.secrets.update(s for s in known if isinstance(s, str) and s)
        live.paused_by_request = bool(stored.head.get("paused_by_request"))
        return live

    async def _reconcile(self, live: LiveWorkflow) -> None:
        """Apply what children did while nobody listened; request children never requested."""
        for index, entry, item, child_id in named_children(live):
            child = await self.store.executions.get(child_id)
            if child is None:  # requested by the next step, with its save
                with noting_secrets(live):
                    live.unrequested.append(rerender(live, entry, index, item, child_id))
            else:
                apply_child(live, child)

    # -- background -----------------------------------------------------------------------
    async def close(self) -> None:
        self._closed = True
        for live in list(self._live.values()):
            for timer in live.timers.values():
                timer.cancel()
            for end in live.finishing.values():
                end.settle(None)  # written by their runners the ordinary way
        await super().close()


def _is_workflow_task(execution: Execution) -> bool:
    return isinstance(execution.context.get("orquesta"), Mapping)

"""The workflow conductor: decides what runs next from what has happened. Pure, no I/O.

It follows Orquesta's conducting semantics (st2-format §10), because pack authors' workflows
depend on them — which transitions fire, how publishes merge, when a failure is remediated,
how routes split and joins wait — and they are what the conformance suite compares. The host
(the engine, or a test rehearsal) asks ``next_tasks()``, runs them elsewhere, and reports with
``update_task``; ``request_status`` pauses, resumes, cancels or fails the workflow. The state
(``WorkflowState``) is plain data; ``state.take_delta()`` is what a step changed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.workflows.expressions import CurrentTask, ExpressionError, Scope
from core.workflows.graph import Edge, WorkflowGraph
from core.workflows.machines import (
    ABENDED,
    ACTIVE,
    COMPLETED,
    RUNNING_GROUP,
    STARTING,
    task_on_action,
    task_on_engine,
    task_on_workflow,
    workflow_on_request,
    workflow_on_task,
)
from core.workflows.state import Entry, Items, Staged, WorkflowState, merge_contexts

__all__ = ["ActionRequest", "Conductor", "TaskRequest", "WorkflowStatusError"]

_COMMANDS = ("continue", "noop", "fail")  # "retry" becomes the task's retry spec
_SATISFIED, _WIP, _NOT_SATISFIED = "satisfied", "wip", "not_satisfied"
FAILED_MESSAGE = "Execution failed. See result for details."


class WorkflowStatusError(ValueError):
    """A status change the workflow's state does not allow (e.g. resume a running one)."""


@dataclass(frozen=True)
class ActionRequest:
    action: str | None
    input: Any
    item_id: int | None = None


@dataclass(frozen=True)
class TaskRequest:
    """A task ready to run: its actions (one, or the items allowed to start now)."""

    id: str
    route: int
    actions: tuple[ActionRequest, ...]
    delay: int | None = None
    items_count: int | None = None
    concurrency: int | None = None
    context: Mapping[str, Any] = field(default_factory=dict)


class Conductor:
    def __init__(
        self, graph: WorkflowGraph, state: WorkflowState, *, kv: Mapping[str, Any] | None = None
    ) -> None:
        self.graph = graph
        self.spec = graph.spec
        self.state = state
        self.kv = kv
        self._items_cache: dict[tuple[str, int, tuple[int, ...]], list[Any]] = {}

    # -- start ----------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        graph: WorkflowGraph,
        inputs: Mapping[str, Any],
        parent_context: Mapping[str, Any] | None = None,
        *,
        kv: Mapping[str, Any] | None = None,
    ) -> Conductor:
        """A new workflow: inputs (runtime values or defaults, each evaluated in order) and
        vars make the initial context; the start tasks are staged on route 0."""
        conductor = cls(graph, WorkflowState(), kv=kv)
        context = dict(parent_context or {})
        errors: list[ExpressionError] = []
        for name, default in graph.spec.input:
            value = inputs.get(name, default)
            try:
                context[name] = conductor._scope(context).evaluate(value)
            except ExpressionError as exc:
                errors.append(exc)
        for name, value in graph.spec.vars:
            try:
                context[name] = conductor._scope(context).evaluate(value)
            except ExpressionError as exc:
                errors.append(exc)
        state = conductor.state
        if errors:
            for error in errors:
                conductor.log_error(error)
            state.status = "failed"
            return conductor
        state.add_context(context)
        state.add_route([])
        for root in graph.roots:
            state.stage(Staged(root, 0, [0], ready=True))
        return conductor

    def _scope(self, data: Mapping[str, Any], task: CurrentTask | None = None) -> Scope:
        return Scope(data, task=task, view=self.state, kv=self.kv)

    # -- errors ---------------------------------------------------------------------------
    def log_entry(self, message: str, **where: Any) -> None:
        entry = {"type": "error", "message": message}
        entry.update({k: v for k, v in where.items() if v is not None})
        if entry not in self.state.errors:
            self.state.errors.append(entry)

    def log_error(
        self, error: Exception, task_id: str | None = None, route: int | None = None,
        transition: str | None = None,
    ) -> None:  # fmt: skip
        message = f"{_error_name(error)}: {error}"
        self.log_entry(message, task_id=task_id, route=route, task_transition_id=transition)

    # -- workflow status ------------------------------------------------------------------
    @property
    def status(self) -> str:
        return self.state.status

    def request_status(self, status: str) -> None:
        """Ask the workflow to run, pause, resume, cancel or fail; active tasks hear it too."""
        state = self.state
        current = state.status
        for index in list(state.latest.values()):
            entry = state.sequence[index]
            if entry.status in ACTIVE:
                staged = state.staged_task(entry.id, entry.route)
                items = None
                if staged is not None and staged.items is not None:
                    unfinished = any(n > 0 for s, n in staged.items.counts.items()
                                     if s not in COMPLETED)  # fmt: skip
                    items = (staged.items.has(ACTIVE), unfinished)
                new = task_on_workflow(entry.status, status, items=items)
                if new is not None:
                    state.set_status(entry, new)
        completed = (
            current == "paused" and status in ("running", "resuming")
            and not state.has_active_tasks and not state.has_staged_tasks
            and not state.has_status(("paused", "pending"))
        )  # fmt: skip
        new_status = workflow_on_request(
            current, status, active=state.has_active_tasks, completed=completed
        )
        if new_status is not None:
            state.status = new_status
        updated = state.status
        if status == "paused" and current == "pausing" and updated == "pausing":
            return
        if status == "canceled" and current == "canceling" and updated == "canceling":
            return
        if status != current and current == updated:
            raise WorkflowStatusError(
                f'Unable to change workflow status from "{current}" to "{status}".'
            )

    # -- rerun ----------------------------------------------------------------------------
    def rerun_candidates(self) -> list[Entry]:
        """The tasks a plain rerun runs again: the latest run of each task that failed."""
        state = self.state
        return [state.sequence[i] for i in sorted(state.latest.values())
                if state.sequence[i].status in ABENDED]  # fmt: skip

    def request_rerun(
        self, tasks: list[str] | None = None, no_reset: set[str] | None = None
    ) -> None:
        """Run a completed workflow again from ``tasks`` (default: its failed tasks), each in
        the context it ran in before; with-items tasks named in ``no_reset`` run only their
        items that did not succeed. Output and errors start over; the workflow resumes."""
        state = self.state
        if state.status not in COMPLETED:
            raise WorkflowStatusError(
                f'Unable to rerun workflow: it is "{state.status}", not completed.'
            )
        if tasks:
            unknown = sorted(t for t in tasks if not any(e.id == t for e in state.sequence))
            if unknown:
                raise WorkflowStatusError(
                    f"Unable to rerun tasks that never ran: {', '.join(unknown)}."
                )
            entries = [state.sequence[i] for i in sorted(state.latest.values())
                       if state.sequence[i].id in tasks]  # fmt: skip
        else:
            entries = self.rerun_candidates()
        if not entries:
            raise WorkflowStatusError("Unable to rerun workflow: no failed task to rerun.")
        for entry in entries:
            staged = state.stage(Staged(entry.id, entry.route, list(entry.ctx_in), dict(entry.prev),
                                        ready=True))  # fmt: skip
            if entry.id in (no_reset or set()) and entry.item_statuses is not None:
                staged.items = Items(len(entry.item_statuses))
                results = entry.result if isinstance(entry.result, list) else []
                for index, status in enumerate(entry.item_statuses):
                    if status == "succeeded":
                        result = results[index] if index < len(results) else None
                        state.set_item(staged, index, "succeeded", result)
            entry.term = False
            state.touch(entry)
        state.reruns.append([state.index_of(e.id, e.route) or 0 for e in entries])
        state.errors = []
        state.output = None
        state.status = "resuming"

    # -- next tasks -----------------------------------------------------------------------
    def next_tasks(self) -> list[TaskRequest]:
        """The staged tasks that can run now, rendered, sorted by task name and route."""
        state = self.state
        staged = state.ready_staged()
        remediation = [s for s in staged if s.run_on_fail] if state.status == "failed" else []
        if state.status not in RUNNING_GROUP and not remediation:
            return []
        found: list[TaskRequest] = []
        failed = False
        for task in remediation or staged:
            if task.items is not None and len(task.items) and not task.items.counts["null"]:
                continue  # every item started: nothing to render until one is reset
            try:
                request = (
                    self._item_request(task)
                    if self._has_items(task)
                    else (self.task_request(task.id, task.route))
                )
            except (ExpressionError, TypeError, ValueError) as exc:
                failed = True
                self.log_error(exc, task_id=task.id, route=task.route)
                continue
            if task.retry is not None:
                request = TaskRequest(request.id, request.route, request.actions,
                                      task.retry.get("delay") or 0, request.items_count,
                                      request.concurrency, request.context)  # fmt: skip
            if request.actions or request.items_count == 0:
                found.append(request)
        if failed:
            self.request_status("failed")
            return []
        return sorted(found, key=lambda r: (r.id, r.route))

    def _has_items(self, staged: Staged) -> bool:
        return self.graph.task_spec(staged.id).items is not None

    def task_request(self, task_id: str, route: int, only: list[int] | None = None) -> TaskRequest:
        """A task's actions rendered in its inbound context (one per item for with-items;
        ``only`` these items, when given)."""
        context = self._initial_context(task_id, route)
        scope = self._scope(context, CurrentTask(task_id, route))
        spec = self.graph.task_spec(task_id)
        delay = None
        if spec.delay is not None:
            delay = scope.evaluate(spec.delay) if isinstance(spec.delay, str) else spec.delay
            if not isinstance(delay, int):
                raise TypeError("The value of task delay is not type of integer.")
        if spec.items is None:
            action = ActionRequest(scope.evaluate(spec.action), scope.evaluate_input(spec.input))
            return TaskRequest(task_id, route, (action,), delay, context=context)
        items = self._items_of(task_id, route, scope)
        actions = []
        for index in range(len(items)) if only is None else only:
            item = items[index]
            keys = spec.items.keys
            if keys and isinstance(item, list | tuple):
                item = dict(zip(keys, list(item), strict=False))
            elif keys and len(keys) == 1:
                item = {keys[0]: item}
            item_scope = scope.with_item(item)
            actions.append(
                ActionRequest(
                    item_scope.evaluate(spec.action), item_scope.evaluate_input(spec.input), index
                )
            )
        concurrency = spec.items.concurrency
        if isinstance(concurrency, str):
            concurrency = scope.evaluate(concurrency)
        return TaskRequest(task_id, route, tuple(actions), delay, len(items),
                           None if concurrency is None else int(concurrency), context)  # fmt: skip

    def _items_of(self, task_id: str, route: int, scope: Scope) -> list[Any]:
        """The task's items list; evaluated once per staging (its context cannot change)."""
        staged = self.state.staged_task(task_id, route)
        key = (task_id, route, tuple(staged.ctx_in) if staged else ())
        found = self._items_cache.get(key)
        if found is None:
            spec = self.graph.task_spec(task_id)
            assert spec.items is not None
            found = scope.evaluate(spec.items.expression)
            if not isinstance(found, list):
                raise TypeError(f'The value of "{spec.items.expression}" is not type of list.')
            if len(self._items_cache) > 64:
                self._items_cache.clear()
            self._items_cache[key] = found
        return found

    def _item_request(self, staged: Staged) -> TaskRequest:
        """The items of a with-items task that may start now (within its concurrency)."""
        bare = self.task_request(staged.id, staged.route, only=[])
        if staged.items is None:
            staged.items = Items(bare.items_count or 0)
        room = None
        if bare.concurrency is not None:
            active = sum(staged.items.counts[s] for s in ACTIVE)
            room = max(0, max(1, bare.concurrency) - active)
        chosen = staged.items.not_started(room)
        if not chosen:
            return bare
        return self.task_request(staged.id, staged.route, only=chosen)

    # -- contexts -------------------------------------------------------------------------
    def _initial_context(self, task_id: str, route: int) -> dict[str, Any]:
        staged = self.state.staged_task(task_id, route)
        if staged is not None:
            return self.state.context(staged.ctx_in)
        entry = self.state.entry(task_id, route)
        if entry is not None:
            return self.state.context(entry.ctx_in)
        return self.state.context([0])

    # -- task updates ---------------------------------------------------------------------
    def update_task(
        self,
        task_id: str,
        route: int,
        status: str,
        result: Any = None,
        *,
        item_id: int | None = None,
    ) -> Entry:
        """An action (or one item of a with-items task) reached ``status``."""
        return self._update(task_id, route, _Event("action", status, result, item_id))

    def _update(self, task_id: str, route: int, event: _Event) -> Entry:
        state = self.state
        if not self.graph.has_task(task_id) and task_id not in _COMMANDS:
            raise ValueError(f'Task "{task_id}" is not in the workflow graph.')
        staged = state.staged_task(task_id, route)
        entry = state.entry(task_id, route)
        spec = self.graph.task_spec(task_id)
        if staged is None and entry is None:
            raise ValueError(f'Task "{task_id}" (route {route}) is not staged nor running.')
        if entry is None or task_id in _COMMANDS:
            assert staged is not None
            entry = self._add_entry(task_id, staged)
        if entry.status in COMPLETED and event.status in STARTING:
            assert staged is not None
            entry = self._add_entry(task_id, staged)  # the task runs again (a cycle)
        if event.status and staged is not None and staged.items is None:
            state.unstage(task_id, route)
        if staged is not None and event.item_id is not None and staged.items is not None:
            state.set_item(staged, event.item_id, event.status, event.result)
        if event.status == "failed":
            self.log_entry(FAILED_MESSAGE, task_id=task_id, result=event.result)
        old = entry.status
        new = self._task_status(entry, staged, event)
        if new is not None:
            state.set_status(entry, new)
        new = entry.status
        if new == "retrying":
            assert entry.retry is not None
            entry.retry["tally"] += 1
            state.touch(entry)
            state.unstage(task_id, route)
            state.stage(Staged(task_id, route, list(entry.ctx_in), dict(entry.prev),
                               ready=True, retry=entry.retry))  # fmt: skip
        commands: deque[tuple[str, int]] = deque()
        if new in COMPLETED:
            if not (spec.items is not None and new in ABENDED):
                state.unstage(task_id, route)
            else:
                still = state.staged_task(task_id, route)
                if still is not None:
                    still.completed = True
            result = self._task_result(spec.items is not None, staged, event)
            entry.result = result
            if staged is not None and staged.items is not None:
                entry.item_statuses = staged.items.statuses()
            state.touch(entry)
            context = state.context(entry.ctx_in)
            if state.status in ACTIVE and self._retry_due(entry, context):
                return self._update(task_id, route, _ENGINE_EVENTS["retry"])
            if new != old:
                self._transition(entry, context, commands)
        self._workflow_on_task(task_id, route, entry.status)
        while commands:
            command, command_route = commands.popleft()
            self._update(command, command_route, _ENGINE_EVENTS[command])
        if state.status in COMPLETED:
            entry.term = True
            state.touch(entry)
        return entry

    def _task_status(self, entry: Entry, staged: Staged | None, event: _Event) -> str | None:
        if event.kind == "engine":
            return task_on_engine(entry.status, event.command)
        items = None
        if event.item_id is not None and staged is not None and staged.items is not None:
            items = _others_progress(staged.items, event.item_id)
        return task_on_action(entry.status, event.status, items=items)

    def _add_entry(self, task_id: str, staged: Staged) -> Entry:
        entry = Entry(task_id, staged.route, list(staged.ctx_in), dict(staged.prev))
        retry = self.graph.retry.get(task_id)
        if retry is not None and "count" in retry:
            entry.retry = self._retry_spec(task_id, retry, staged.ctx_in)
        return self.state.add_entry(entry)

    def _retry_spec(
        self, task_id: str, spec: Mapping[str, Any], ctx_in: list[int]
    ) -> dict[str, Any]:
        retry = {**spec, "tally": 0}
        scope = self._scope(self.state.context(ctx_in))
        for name in ("delay", "count"):
            if isinstance(retry.get(name), str):
                value = scope.evaluate(retry[name])
                if not isinstance(value, int):
                    raise ValueError(f'The retry {name} for task "{task_id}" is not an integer.')
                retry[name] = value
        return retry

    def _retry_due(self, entry: Entry, context: dict[str, Any]) -> bool:
        retry = entry.retry
        if retry is None or retry["tally"] >= retry["count"]:
            return False
        if entry.status in ABENDED and retry.get("when") is None:
            return True
        if retry.get("when") is None:
            return False
        scope = self._scope(context, CurrentTask(entry.id, entry.route, entry.result))
        return bool(scope.evaluate(retry["when"]))

    @staticmethod
    def _task_result(has_items: bool, staged: Staged | None, event: _Event) -> Any:
        if not has_items:
            return event.result
        if event.item_id is not None and staged is not None and staged.items is not None:
            return staged.items.results()
        return event.result or []

    # -- transitions ----------------------------------------------------------------------
    def _transition(
        self, entry: Entry, context: dict[str, Any], commands: deque[tuple[str, int]]
    ) -> None:
        state = self.state
        task_id, route = entry.id, entry.route
        edges = self.graph.next_edges(task_id)
        if not edges:
            entry.term = True
        current = CurrentTask(task_id, route, entry.result)
        scope = self._scope(context, current)
        manual_fail = False
        ready_next: list[Staged] = []
        for edge in edges:
            try:
                entry.next[edge.id] = bool(scope.evaluate(edge.criteria)) if edge.criteria else True
            except ExpressionError as exc:
                self.log_error(exc, task_id, route, edge.id)
                state.touch(entry)
                self.request_status("failed")
                continue
            state.touch(entry)
            if not entry.next[edge.id]:
                continue
            published, errors = self._publish(edge, context, current)
            if errors:
                for error in errors:
                    self.log_error(error, task_id, route, edge.id)
                self.request_status("failed")
                continue
            out = list(entry.ctx_in)
            if published:
                index = state.add_context(published)
                out.append(index)
                entry.ctx_out = {edge.id: index}
            staged = self._stage_next(edge, route, out, state.index_of(task_id, route))
            if edge.target in _COMMANDS:
                commands.append((staged.id, staged.route))
                manual_fail = manual_fail or edge.target == "fail"
            elif staged.ready:
                ready_next.append(staged)
        if manual_fail:
            for staged in ready_next:
                staged.run_on_fail = True

    def _publish(
        self, edge: Edge, context: dict[str, Any], current: CurrentTask
    ) -> tuple[dict[str, Any], list[ExpressionError]]:
        transition = self.graph.task_spec(edge.source).next[edge.ref]
        rolling = dict(context)
        published: dict[str, Any] = {}
        errors: list[ExpressionError] = []
        if edge.target in transition.do:
            for name, expression in transition.publish:
                try:
                    value = self._scope(rolling, current).evaluate(expression)
                except ExpressionError as exc:
                    errors.append(exc)
                    continue
                rolling[name] = value
                published[name] = value
        return published, errors

    def _stage_next(
        self, edge: Edge, route: int, out: list[int], source_index: int | None
    ) -> Staged:
        state = self.state
        target_route = self._route(edge, route)
        staged = state.staged_task(edge.target, target_route)
        backref = edge.backref
        if staged is not None:
            staged.ctx_in.extend(i for i in out if i != 0)
            staged.prev[backref] = source_index if source_index is not None else -1
            staged.items = None
            staged.completed = False
        else:
            staged = state.stage(Staged(edge.target, target_route, out,
                                        {backref: source_index if source_index is not None else -1},
                                        ready=False))  # fmt: skip
        staged.ready = self._inbound_status(edge.target, route) == _SATISFIED
        return staged

    def _route(self, edge: Edge, route: int) -> int:
        if not self.graph.is_split(edge.target) or self.graph.in_cycle(edge.target):
            return route
        old = self.state.routes[route]
        if edge.backref in old:
            return route
        return self.state.add_route([*old, edge.backref])

    def _inbound_status(self, task_id: str, route: int) -> str:
        inbound = self.graph.prev_edges(task_id)
        evaluation: dict[str, bool | None] = {e.source: None for e in inbound}
        barrier = self.graph.barrier(task_id) or 1
        required = len(evaluation) if barrier == "*" else int(barrier)
        for edge in inbound:
            entry = self.state.entry(edge.source, route)
            if entry is None:
                continue
            satisfied = bool(entry.next.get(edge.id))
            if not evaluation[edge.source]:
                evaluation[edge.source] = satisfied
        if list(evaluation.values()).count(True) >= required:
            return _SATISFIED
        if None in evaluation.values() and (
            self.state.has_active_tasks or self.state.has_staged_tasks
        ):
            return _WIP
        return _NOT_SATISFIED

    # -- the workflow's reaction to a task -------------------------------------------------
    def has_next_tasks(self, task_id: str, route: int) -> bool:
        entry = self.state.entry(task_id, route)
        if entry is None or entry.status not in COMPLETED:
            return False
        for edge in self.graph.next_edges(task_id):
            if edge.target == "continue" or not entry.next.get(edge.id):
                continue
            if (
                edge.target in self.graph.barriers
                and self._inbound_status(edge.target, route) == _NOT_SATISFIED
            ):
                continue
            return True
        return False

    def _workflow_on_task(self, task_id: str, route: int, status: str) -> None:
        state = self.state
        has_next = self.has_next_tasks(task_id, route)
        remediated = status in ABENDED and has_next
        if state.has_status(("canceling", "canceled")):
            progress = "canceled"
        elif state.has_status(("pausing", "paused", "pending")):
            progress = "paused"
        elif state.has_staged_tasks or has_next:
            progress = "incomplete"
        else:
            progress = "completed"
        new = workflow_on_task(state.status, status, active=state.has_active_tasks,
                               progress=progress, remediated=remediated)  # fmt: skip
        if new is not None:
            state.status = new
        if state.status in COMPLETED:
            self._fail_unreachable_joins()

    def _fail_unreachable_joins(self) -> None:
        for staged in list(self.state.staged.values()):
            if staged.id not in self.graph.barriers or staged.ready:
                continue
            if self._inbound_status(staged.id, staged.route) == _NOT_SATISFIED:
                self.state.status = "failed"
                where = f"{staged.id}|{staged.route}"
                message = (
                    f'UnreachableJoinError: The join task|route "{where}" '
                    "is partially satisfied but unreachable."
                )
                self.log_entry(message, task_id=staged.id, route=staged.route)

    # -- output ---------------------------------------------------------------------------
    def terminal_context(self) -> dict[str, Any]:
        terminals = [e for e in self.state.sequence if e.term]
        if not terminals:
            return {}
        context = self.state.context(terminals[0].ctx_in)
        for entry in terminals[1:]:
            context = merge_contexts(
                context, self.state.context([i for i in entry.ctx_in if i != 0] or [])
            )
        return context

    def render_output(self) -> None:
        """Render the workflow's output once it completed (from its terminal contexts)."""
        state = self.state
        if state.status not in COMPLETED or state.output:
            return
        if not state.contexts:
            return  # input or vars failed to render: the workflow never started (as Orquesta)
        rolling = self.terminal_context()
        output: dict[str, Any] = {}
        errors = []
        for name, expression in self.spec.output:
            try:
                value = self._scope(rolling).evaluate(expression)
            except ExpressionError as exc:
                errors.append(exc)
                continue
            rolling = {**rolling, name: value}
            output[name] = value
        if output:
            state.output = output
        if errors:
            for error in errors:
                self.log_error(error)
            if state.status not in ("timeout", "abandoned", "canceled"):
                self.request_status("failed")

    def result(self) -> dict[str, Any]:
        """st2's workflow result: ``{output}``, with ``errors`` when it did not succeed."""
        result: dict[str, Any] = {"output": self.state.output}
        if self.state.status in ("failed", "timeout", "abandoned"):
            result["errors"] = list(self.state.errors)
        return result


@dataclass(frozen=True)
class _Event:
    kind: str  # action | engine
    status: str
    result: Any = None
    item_id: int | None = None
    command: str = ""


# Engine commands carry the status their entry ends in (``fail`` logs the failure, as a failed
# action would).
_ENGINE_EVENTS: dict[str, _Event] = {
    "continue": _Event("engine", "succeeded", command="continue"),
    "noop": _Event("engine", "succeeded", command="noop"),
    "fail": _Event("engine", "failed", command="fail"),
    "retry": _Event("engine", "retrying", command="retry"),
}


def _others_progress(items: Items, item_id: int) -> tuple[bool, str]:
    """The other items, as Orquesta describes a with-items task to its state machine."""
    counts = items.counts.copy()
    counts[items[item_id]["status"]] -= 1

    def has(statuses: Iterable[str]) -> bool:
        return any(counts[s] > 0 for s in statuses)

    active = has(ACTIVE)
    progress = (
        "incomplete"
        if any(n > 0 for s, n in counts.items() if s not in COMPLETED)
        else ("completed")
    )
    if not active:
        if has(("pending", "paused")):
            progress = "paused"
        elif counts["canceled"] > 0:
            progress = "canceled"
        elif has(ABENDED):
            progress = "failed"
    return active, progress


def _error_name(error: Exception) -> str:
    """Orquesta's exception names, which st2 puts in front of the message."""
    return {
        "ExpressionError": "ExpressionEvaluationException",
        "YaqlEvaluationError": "YaqlEvaluationException",
        "JinjaEvaluationError": "JinjaEvaluationException",
    }.get(type(error).__name__, type(error).__name__)

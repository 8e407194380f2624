"""The conductor's state and what every phase shares: start, errors, the workflow's status
(pause, resume, cancel, fail), rerun, and the output once it completed. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from core.workflows.expressions import CurrentTask, ExpressionError, Scope
from core.workflows.graph import WorkflowGraph
from core.workflows.machines import (
    ABENDED,
    ACTIVE,
    COMPLETED,
    task_on_workflow,
    workflow_on_request,
)
from core.workflows.spec import ENGINE_COMMANDS
from core.workflows.state import Entry, Items, Staged, WorkflowState, merge_contexts

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


class ConductorBase:
    """State, start, errors, the workflow's status, rerun and output; the phases build on it."""

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
    ) -> Self:
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
        """The tasks a plain rerun runs again: the latest run of each task that failed. A
        ``fail`` command's entry is not one (it has no action; Orquesta would pick it and then
        trip over its missing spec): the task that failed before it is."""
        state = self.state
        return [state.sequence[i] for i in sorted(state.latest.values())
                if state.sequence[i].status in ABENDED
                and state.sequence[i].id not in ENGINE_COMMANDS]  # fmt: skip

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
            commands = sorted(set(tasks) & set(ENGINE_COMMANDS))
            if commands:
                raise WorkflowStatusError(
                    f"Unable to rerun engine commands, only tasks: {', '.join(commands)}."
                )
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


def _error_name(error: Exception) -> str:
    """Orquesta's exception names, which st2 puts in front of the message."""
    return {
        "ExpressionError": "ExpressionEvaluationException",
        "YaqlEvaluationError": "YaqlEvaluationException",
        "JinjaEvaluationError": "JinjaEvaluationException",
    }.get(type(error).__name__, type(error).__name__)

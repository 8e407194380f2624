"""After a task completes: which transitions fire, what they publish, where the next tasks
are staged (routes, joins), and how the workflow's status follows its tasks. Pure, no I/O."""

from __future__ import annotations

from collections import deque
from typing import Any

from core.workflows.conductor.base import ConductorBase
from core.workflows.expressions import CurrentTask, ExpressionError
from core.workflows.graph import Edge
from core.workflows.machines import ABENDED, COMPLETED, workflow_on_task
from core.workflows.state import Entry, Staged

SATISFIED, WIP, NOT_SATISFIED = "satisfied", "wip", "not_satisfied"
COMMANDS = ("continue", "noop", "fail")  # "retry" becomes the task's retry spec


class Transitions(ConductorBase):
    """Fire a completed task's transitions and follow the workflow's status."""

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
                taken = bool(scope.evaluate(edge.criteria)) if edge.criteria else True
            except ExpressionError as exc:
                self.log_error(exc, task_id, route, edge.id)
                state.touch(entry)
                self.request_status("failed")
                continue
            state.set_next(entry, edge.id, edge.target, taken)
            if not taken:
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
            if edge.target in COMMANDS:
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
        staged.ready = self._inbound_status(edge.target, route) == SATISFIED
        return staged

    def _route(self, edge: Edge, route: int) -> int:
        if not self.graph.is_split(edge.target) or self.graph.in_cycle(edge.target):
            return route
        old = self.state.routes[route]
        if edge.backref in old:
            return route
        return self.state.add_route([*old, edge.backref])

    def _inbound_status(self, task_id: str, route: int) -> str:
        """Orquesta's inbound criteria of a task from ``route``: satisfied once enough of its
        sources (all of them for ``join: all``) took a transition to it; work in progress
        while a source has not run and the workflow still has something to run. The tally
        is kept by the state as entries change, so a fan-in's every arrival costs O(1)."""
        sources = self.graph.inbound_sources(task_id)
        barrier = self.graph.barrier(task_id) or 1
        required = len(sources) if barrier == "*" else int(barrier)
        inbound = self.state.inbound(task_id, route, sources)
        if inbound.satisfied >= required:
            return SATISFIED
        if inbound.unevaluated and (self.state.has_active_tasks or self.state.has_staged_tasks):
            return WIP
        return NOT_SATISFIED

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
                and self._inbound_status(edge.target, route) == NOT_SATISFIED
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
            if self._inbound_status(staged.id, staged.route) == NOT_SATISFIED:
                self.state.status = "failed"
                where = f"{staged.id}|{staged.route}"
                message = (
                    f'UnreachableJoinError: The join task|route "{where}" '
                    "is partially satisfied but unreachable."
                )
                self.log_entry(message, task_id=staged.id, route=staged.route)

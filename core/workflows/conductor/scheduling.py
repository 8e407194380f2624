"""Which staged tasks run now, rendered: their actions (one, or the with-items items allowed
to start within the concurrency), delays, and the inbound context. Pure, no I/O."""

from __future__ import annotations

from typing import Any

from core.workflows.conductor.base import ActionRequest, ConductorBase, TaskRequest
from core.workflows.expressions import CurrentTask, ExpressionError, Scope
from core.workflows.machines import ACTIVE, RUNNING_GROUP
from core.workflows.state import Items, Staged


class Scheduling(ConductorBase):
    """Render the staged tasks that may run now."""

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

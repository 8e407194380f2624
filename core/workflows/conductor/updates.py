"""A task's action (or one item) reached a status: the task's entry, its retries, its result,
then the transitions and the engine commands they stage. Pure, no I/O."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.workflows.conductor.base import FAILED_MESSAGE
from core.workflows.conductor.transitions import COMMANDS, Transitions
from core.workflows.expressions import CurrentTask
from core.workflows.machines import (
    ABENDED,
    ACTIVE,
    COMPLETED,
    STARTING,
    task_on_action,
    task_on_engine,
)
from core.workflows.state import Entry, Items, Staged


class TaskUpdates(Transitions):
    """Apply a task's status reports (actions, items, engine commands)."""

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
        if not self.graph.has_task(task_id) and task_id not in COMMANDS:
            raise ValueError(f'Task "{task_id}" is not in the workflow graph.')
        staged = state.staged_task(task_id, route)
        entry = state.entry(task_id, route)
        spec = self.graph.task_spec(task_id)
        if staged is None and entry is None:
            raise ValueError(f'Task "{task_id}" (route {route}) is not staged nor running.')
        if entry is None or task_id in COMMANDS:
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

"""Progress of a workflow started from chat: its run card shows how many tasks are done,
running and failed, and is edited as the workflow moves — at most once per interval (a trailing
edit shows the last state), so a 1,000-task workflow makes a handful of edits, not thousands.
Tasks of nested workflows count toward the workflow the person started. The final result
edit (RunCards.on_completed) always comes last: it waits for an edit in flight and stops the
progress edits for good.

Tasks that run in another process (a cluster sharing one store) reach the card through the chat
outbox (bot.chat.relay): the item only says "this workflow moved"; ``refresh`` reads the tasks'
statuses from the store, so however many items wait, the card shows the latest state, under
the same throttle, and never after the result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from adapters.base import Button, OutgoingMessage, SentMessage
from bot.chat.outbound import Delivery, DeliveryError
from core.models import FAILED_GROUP, Execution, ExecutionStatus
from core.store import ExecutionQuery, ExecutionRepository

__all__ = ["ProgressCards", "progress_card", "progress_line", "task_statuses"]

logger = logging.getLogger(__name__)
S = ExecutionStatus
# Runners whose executions have tasks of their own (their tasks count toward the root).
PARENT_RUNNERS = frozenset({"orquesta", "action-chain"})
PAGE = 1000


def progress_line(statuses: dict[str, ExecutionStatus]) -> str:
    done = sum(s is S.SUCCEEDED for s in statuses.values())
    failed = sum(s in FAILED_GROUP for s in statuses.values())
    canceled = sum(s is S.CANCELED for s in statuses.values())
    waiting = sum(s is S.PENDING for s in statuses.values())
    running = len(statuses) - done - failed - canceled - waiting
    parts = [f"{done} done", f"{running} running", f"{failed} failed"]
    if waiting:
        parts.append(f"{waiting} waiting for an answer")
    if canceled:
        parts.append(f"{canceled} canceled")
    return "tasks: " + " · ".join(parts)


def task_name(execution: Execution) -> str | None:
    task = (execution.context.get("orquesta") or {}).get("task_name")
    return str(task) if task else None


async def task_statuses(
    executions: ExecutionRepository, workflow_id: str
) -> tuple[dict[str, ExecutionStatus], str | None]:
    """The status of every task under ``workflow_id`` (nested workflows' tasks included), as
    stored, and the task that changed last (``"name status"``)."""
    statuses: dict[str, ExecutionStatus] = {}
    latest: tuple[datetime, str] | None = None
    parents = [workflow_id]
    while parents:
        parent = parents.pop()
        offset = 0
        while True:
            query = ExecutionQuery(parent=parent, limit=PAGE, offset=offset)
            page = await executions.list(query)
            for child in page:
                statuses[child.id] = child.status
                if child.runner_type in PARENT_RUNNERS:
                    parents.append(child.id)
                name = task_name(child)
                changed = child.end_timestamp or child.start_timestamp
                if name and (latest is None or changed >= latest[0]):
                    latest = (changed, f"{name} {child.status}")
            if len(page) < PAGE:
                break
            offset += PAGE
    return statuses, latest[1] if latest is not None else None


def progress_card(workflow_id: str, ref: str, statuses: dict[str, ExecutionStatus],
                  latest: str | None) -> OutgoingMessage:  # fmt: skip
    text = progress_line(statuses) + (f"\nlatest: {latest}" if latest else "")
    return OutgoingMessage(
        title=ref, text=text, status="running",
        buttons=(Button("Cancel", f"cancel {workflow_id}", "danger"),),
        footer=f"execution {workflow_id}",
    )  # fmt: skip


@dataclass
class _Progress:
    ref: str
    sent: asyncio.Future[SentMessage | None]
    statuses: dict[str, ExecutionStatus] = field(default_factory=dict)
    latest: str | None = None
    last_edit: float = 0.0
    timer: asyncio.TimerHandle | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    done: bool = False


class ProgressCards:
    def __init__(
        self,
        delivery: Delivery,
        *,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.delivery = delivery
        self.interval = interval
        self._clock = clock
        self._cards: dict[str, _Progress] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def track(self, execution: Execution, sent: asyncio.Future[SentMessage | None]) -> None:
        """Follow ``execution`` (a workflow) on the card ``sent`` will be."""
        self._cards[execution.id] = _Progress(execution.action_ref, sent)

    async def on_child_change(self, child: Execution) -> None:
        """Service change listener: a task of some workflow changed status."""
        parent = child.context.get("parent")
        root = parent.get("root") if isinstance(parent, dict) else None
        card = self._cards.get(str(root)) or self._cards.get(str(child.parent))
        if card is None or card.done:
            return
        card.statuses[child.id] = child.status
        task = task_name(child)
        if task:
            card.latest = f"{task} {child.status}"
        self._schedule(str(root) if str(root) in self._cards else str(child.parent), card)

    def follows(self, workflow_id: str) -> bool:
        card = self._cards.get(workflow_id)
        return card is not None and not card.done

    async def refresh(self, workflow_id: str, executions: ExecutionRepository) -> None:
        """Tasks of ``workflow_id`` moved in another process: show their stored state."""
        if not self.follows(workflow_id):
            return  # not a card of this process (or its result is shown): nothing to edit
        statuses, latest = await task_statuses(executions, workflow_id)
        card = self._cards.get(workflow_id)
        if card is None or card.done:
            return  # finished while reading: the result edit has the last word
        card.statuses.update(statuses)
        card.latest = latest or card.latest
        self._schedule(workflow_id, card)

    def _schedule(self, workflow_id: str, card: _Progress) -> None:
        if card.timer is not None:
            return  # a trailing edit is already due: it will show this change too
        wait = max(0.0, card.last_edit + self.interval - self._clock())
        loop = asyncio.get_running_loop()
        card.timer = loop.call_later(wait, self._fire, workflow_id, card)

    def _fire(self, workflow_id: str, card: _Progress) -> None:
        card.timer = None
        task = asyncio.create_task(self._edit(workflow_id, card))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _edit(self, workflow_id: str, card: _Progress) -> None:
        async with card.lock:
            if card.done:
                return
            sent = await card.sent
            if sent is None or not self.delivery.capabilities(sent.place.adapter).edits:
                return
            if card.last_edit + self.interval > self._clock():
                # Scheduled before another edit went out (both waited for the card to be
                # sent): stay throttled, and let a trailing edit show this change.
                self._schedule(workflow_id, card)
                return
            card.last_edit = self._clock()
            message = progress_card(workflow_id, card.ref, dict(card.statuses), card.latest)
            try:
                await self.delivery.edit(sent, message, about=f"progress of {workflow_id}")
            except DeliveryError:
                logger.warning("progress of workflow %s not shown", workflow_id)

    async def finish(self, workflow_id: str) -> None:
        """The workflow completed: no progress edit may follow (the result edit comes next)."""
        card = self._cards.pop(workflow_id, None)
        if card is None:
            return
        card.done = True
        if card.timer is not None:
            card.timer.cancel()
            card.timer = None
        async with card.lock:  # an edit in flight finishes before the result edit
            pass

    async def close(self) -> None:
        for card in self._cards.values():
            if card.timer is not None:
                card.timer.cancel()
        with contextlib.suppress(Exception):
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=5)

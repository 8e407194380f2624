"""Progress of a workflow started from chat: its run card shows how many tasks are done,
running and failed, and is edited as the workflow moves — at most once per interval (a trailing
edit shows the last state), so a 1,000-task workflow makes a handful of edits, not thousands.
Tasks of nested workflows count toward the workflow the person started. The final result
edit (RunCards.on_completed) always comes last: it waits for an edit in flight and stops the
progress edits for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from adapters.base import Button, OutgoingMessage, SentMessage
from bot.chat.outbound import Delivery, DeliveryError
from core.models import FAILED_GROUP, Execution, ExecutionStatus

__all__ = ["ProgressCards", "progress_card", "progress_line"]

logger = logging.getLogger(__name__)
S = ExecutionStatus


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
        task = (child.context.get("orquesta") or {}).get("task_name")
        if task:
            card.latest = f"{task} {child.status}"
        self._schedule(str(root) if str(root) in self._cards else str(child.parent), card)

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

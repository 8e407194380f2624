"""Results for a chat platform connected by another process: the durable chat outbox.

Several ``serve`` processes share one store, and each chat platform is connected by one of them
(lease ``chat:<adapter>``, see bot.cluster). An execution may finish anywhere: on a process
without the chat role, or one that does not hold that platform. ``ChatRelay`` is a completion
listener in every process: for each platform the execution's result is for (the chat place it
was started from, the adapters of its ``notify`` routes) that this process does not hold, it
stores an outbox item (id = channel + execution, so a repeat is stored once). The process that
holds the platform claims the items (``OutboxDeliverer``), posts the result through the same run
cards and route sink as for its own executions, and removes them. Claims expire like leases:
items a dead holder claimed are delivered by the next owner.

A process that holds the platform posts directly (no outbox write). The run card's ack handle
lives in the memory of the process that posted it; the owner that delivers a result edits it,
and a new owner after a takeover posts the result as a new message where the run began. An
item is removed after it is delivered: one whose deliverer died in between is delivered again,
its posts keyed by the item (``dedupe_posts``) so a platform that dedupes shows them once.

Edits travel the same way. A workflow's task that changes status in a process without the
platform stores a ``workflow.progress`` item (at most one per progress interval per workflow,
a trailing one for the last change); the owner reads the tasks' state from the store and edits
the run card under its own throttle (bot.chat.progress), so only the latest state is shown and
never after the result. An approval or inquiry decided in such a process stores an
``approval.decided`` item: the owner edits the card it posted with the outcome. A plain action
started from chat that still runs here a moment after it started
(``RUNNING_SHOWN_AFTER_SECONDS``, as for a card of this process) stores an
``execution.running`` item: the owner edits its card to "running" unless the result came first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from adapters.base import ChatAdapter
from bot.chat.cards import WORKFLOW_RUNNER
from bot.chat.outbound import (
    RUNNING_SHOWN_AFTER_SECONDS,
    RunCards,
    dedupe_posts,
    place_from_context,
)
from bot.settings.chat import RouteSettings
from core.executions.notify import effective_notify, notify_sections, section_routes
from core.leases import Hook, LeaseKeeper
from core.models import Execution, ExecutionStatus
from core.models.approval import Approval, ApprovalStatus
from core.models.lease import OutboxItem
from core.packs import ContentIndex
from core.store import Store

if TYPE_CHECKING:
    from bot.chat.loop import ChatBot
    from bot.cluster import Cluster

logger = logging.getLogger(__name__)

KIND = "execution.completed"
INQUIRY = "inquiry.asked"
PROGRESS = "workflow.progress"
DECIDED = "approval.decided"
RUNNING = "execution.running"


def channel_of(adapter: str) -> str:
    return f"chat:{adapter}"


class ChatRelay:
    """Completion listener: outbox items for the platforms this process does not hold."""

    def __init__(
        self,
        store: Store,
        index: ContentIndex,
        routes: Mapping[str, RouteSettings],
        held: Callable[[], Collection[str]],
        *,
        progress_interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.index = index
        self.routes = routes
        self.held = held
        self.progress_interval = progress_interval
        self._clock = clock
        self._last_put: dict[str, float] = {}  # workflow id → when its last progress item went
        self._trailing: dict[str, asyncio.TimerHandle] = {}
        self._running: dict[str, asyncio.TimerHandle] = {}  # execution id → its running item
        self._tasks: set[asyncio.Task[None]] = set()

    def adapters_for(self, execution: Execution) -> set[str]:
        """The platforms this completed execution has something to post to."""
        found: set[str] = set()
        place = place_from_context(execution.context)
        if place is not None and execution.parent is None:
            found.add(place.adapter)
        notify = effective_notify(execution, self.index.actions.get(execution.action_ref))
        if notify:
            for section in notify_sections(notify, execution.status):
                for route in section_routes(notify[section]):
                    if route in self.routes:
                        found.add(self.routes[route].adapter)
        return found

    async def on_completed(self, execution: Execution) -> None:
        held = self.held()
        for adapter in sorted(self.adapters_for(execution)):
            if adapter not in held:
                item = OutboxItem.new(channel_of(adapter), KIND, execution.id, key=execution.id)
                await self.store.outbox.put(item)

    def _adapter_of(self, approval: Approval) -> str | None:
        """The platform an approval's card is on: its route's, else where it was asked."""
        route = self.routes.get(str(approval.subject.get("route") or ""))
        adapter = route.adapter if route is not None else approval.place.get("adapter")
        return str(adapter) if adapter else None

    async def on_inquiry(self, approval: Approval) -> None:
        """An inquiry asked here (the workflow runs here) for a chat another process holds:
        its card goes through the outbox, like a result."""
        adapter = self._adapter_of(approval)
        if adapter and adapter not in self.held():
            item = OutboxItem.new(channel_of(adapter), INQUIRY, approval.id, key=approval.id)
            await self.store.outbox.put(item)

    async def on_decided(self, approval: Approval) -> None:
        """Approval listener: decided here, for a card another process posted."""
        adapter = self._adapter_of(approval)
        if approval.status is ApprovalStatus.PENDING or not adapter or adapter in self.held():
            return
        item = OutboxItem.new(channel_of(adapter), DECIDED, approval.id, key=approval.id)
        await self.store.outbox.put(item)

    # -- workflow progress for a run card another process holds -----------------------------
    @staticmethod
    def wants_child_change(child: Execution) -> bool:
        """Only a task started from chat may have a card to update (no task for the rest)."""
        return place_from_context(child.context) is not None

    async def on_child_change(self, child: Execution) -> None:
        """Change listener: a task changed status here; its workflow's card may be elsewhere."""
        place = place_from_context(child.context)
        if place is None or place.adapter in self.held():
            return  # no card, or this process shows the progress itself (bot.chat.progress)
        parent = child.context.get("parent")
        root = parent.get("root") if isinstance(parent, dict) else None
        workflow_id = str(root or child.parent)
        if workflow_id in self._trailing:
            return  # a trailing item is due: the owner reads the state then, this change too
        wait = self._last_put.get(workflow_id, -self.progress_interval) + self.progress_interval
        wait -= self._clock()
        if wait <= 0:
            await self._put_progress(workflow_id, place.adapter)
        else:
            loop = asyncio.get_running_loop()
            handle = loop.call_later(wait, self._fire, workflow_id, place.adapter)
            self._trailing[workflow_id] = handle

    def _fire(self, workflow_id: str, adapter: str) -> None:
        self._trailing.pop(workflow_id, None)
        task = asyncio.create_task(self._put_progress(workflow_id, adapter))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _put_progress(self, workflow_id: str, adapter: str) -> None:
        now = self._clock()
        self._last_put[workflow_id] = now
        if len(self._last_put) > 1024:  # forget workflows that have not moved for a while
            stale = now - 10 * self.progress_interval
            self._last_put = {k: t for k, t in self._last_put.items() if t >= stale}
        # A fresh id each time (no key): an item the owner is delivering would swallow a
        # repeat of its id, and this change with it. The owner coalesces them.
        await self._put_quietly(OutboxItem.new(channel_of(adapter), PROGRESS, workflow_id))

    # -- ExecutionObserver: the "running" state of a run card another process holds ----------
    def created(self, execution: Execution) -> None:
        pass

    def updated(self, execution: Execution) -> None:
        if execution.is_completed:
            handle = self._running.pop(execution.id, None)
            if handle is not None:
                handle.cancel()  # ended within the moment: the result alone goes
            return
        if execution.status is not ExecutionStatus.RUNNING or execution.parent is not None:
            return
        if execution.runner_type == WORKFLOW_RUNNER or execution.id in self._running:
            return  # a workflow's card shows its progress instead
        place = place_from_context(execution.context)
        if place is None or place.adapter in self.held():
            return  # no card, or RunCards here shows it
        loop = asyncio.get_running_loop()
        self._running[execution.id] = loop.call_later(
            RUNNING_SHOWN_AFTER_SECONDS, self._fire_running, execution.id, place.adapter
        )

    def output(self, execution: Execution, output_type: str, text: str) -> None:
        pass

    def _fire_running(self, execution_id: str, adapter: str) -> None:
        self._running.pop(execution_id, None)
        item = OutboxItem.new(channel_of(adapter), RUNNING, execution_id, key=execution_id)
        task = asyncio.create_task(self._put_quietly(item))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _put_quietly(self, item: OutboxItem) -> None:
        try:
            await self.store.outbox.put(item)
        except Exception:  # a card edit is not worth failing a status change for
            logger.warning("%s of %s not relayed", item.kind, item.ref, exc_info=True)

    async def close(self) -> None:
        """Stop the trailing timers (a stopping process relays no more progress)."""
        for handle in [*self._trailing.values(), *self._running.values()]:
            handle.cancel()
        self._trailing.clear()
        self._running.clear()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)


@dataclass(frozen=True)
class ChatHandlers:
    """What the owner of a platform does with each kind of outbox item."""

    cards: RunCards
    post_routes: Callable[[Execution, str], Awaitable[None]]
    post_inquiry: Callable[[Approval], Awaitable[object]]
    show_outcome: Callable[[Approval], Awaitable[None]]
    refresh_progress: Callable[[str], Awaitable[None]]


class OutboxDeliverer:
    """In the process holding a platform: delivers the outbox items stored for it."""

    def __init__(
        self,
        store: Store,
        handlers: ChatHandlers,
        holder: str,
        *,
        claim_seconds: float,
        now: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.handlers = handlers
        self.holder = holder
        self.claim = timedelta(seconds=claim_seconds)
        self.now = now
        self.delivered = 0

    async def deliver(self, adapter: str) -> int:
        """Claim and deliver what waits for ``adapter``; returns how many were delivered."""
        now = self.now()
        items = await self.store.outbox.claim(
            channel_of(adapter), self.holder, now + self.claim, now
        )
        refreshed: set[str] = set()  # progress items of one batch say the same: read once
        for item in items:
            if item.kind == PROGRESS:
                if item.ref not in refreshed:
                    refreshed.add(item.ref)
                    await self.handlers.refresh_progress(item.ref)
            else:
                with dedupe_posts(item.id):
                    await self._deliver(item, adapter)
            await self.store.outbox.done(item.id)
            self.delivered += 1
        return len(items)

    async def _deliver(self, item: OutboxItem, adapter: str) -> None:
        handlers = self.handlers
        if item.kind in (KIND, RUNNING):
            execution = await self.store.executions.get(item.ref)
            if execution is None:
                return
            if item.kind == RUNNING:
                await handlers.cards.show_running(execution)  # unless it ended meanwhile
                return
            await handlers.cards.on_completed(execution, adapter=adapter)
            await handlers.post_routes(execution, adapter)
            return
        approval = await self.store.approvals.get(item.ref)
        if approval is None:
            return
        if item.kind == INQUIRY and approval.status is ApprovalStatus.PENDING:
            await handlers.post_inquiry(approval)
        elif item.kind == DECIDED and approval.status is not ApprovalStatus.PENDING:
            await handlers.show_outcome(approval)

    async def run_forever(self, adapters: Callable[[], Collection[str]], interval: float) -> None:
        while True:
            for adapter in sorted(adapters()):
                try:
                    await self.deliver(adapter)
                except Exception:  # a store hiccup: the items stay and are claimed again
                    logger.exception("chat outbox of %s could not be delivered", adapter)
            await asyncio.sleep(interval)


class PlatformLeases:
    """Each chat adapter is connected only while this process holds its ``chat:<name>``
    lease; ``live`` (the Delivery's adapters) holds exactly the connected ones."""

    def __init__(
        self,
        cluster: Cluster,
        bot: ChatBot,
        live: dict[str, ChatAdapter],
        adapters: Sequence[ChatAdapter],
    ) -> None:
        self.cluster = cluster
        self.bot = bot
        self.live = live
        self.adapters = adapters
        self.keepers: list[LeaseKeeper] = []

    async def start(self) -> None:
        """One attempt per platform now (a lone process connects them all at once; a bad
        credential fails the start), then keep trying in the background."""
        for adapter in self.adapters:
            keeper = self.cluster.keeper(
                channel_of(adapter.name), self._gain(adapter), self._loss(adapter.name)
            )
            self.keepers.append(keeper)
            await keeper.start()

    async def stop(self) -> None:
        """Release the leases; the adapters stay open for late results (closed by serve)."""
        for keeper in self.keepers:
            await keeper.stop(stop_job=False)

    def _gain(self, adapter: ChatAdapter) -> Hook:
        async def gain() -> None:
            self.live[adapter.name] = adapter
            try:
                await self.bot.start_adapter(adapter.name)
            except BaseException:
                self.live.pop(adapter.name, None)
                raise

        return gain

    def _loss(self, name: str) -> Hook:
        async def loss() -> None:
            self.live.pop(name, None)
            await self.bot.stop_adapter(name)

        return loss

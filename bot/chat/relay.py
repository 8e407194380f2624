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
and a new owner after a takeover posts the result as a new message where the run began.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from adapters.base import ChatAdapter
from bot.chat.outbound import RunCards, place_from_context
from bot.settings.schema import RouteSettings
from core.executions.notify import effective_notify, notify_sections, section_routes
from core.leases import Hook, LeaseKeeper
from core.models import Execution
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
    ) -> None:
        self.store = store
        self.index = index
        self.routes = routes
        self.held = held

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

    async def on_inquiry(self, approval: Approval) -> None:
        """An inquiry asked here (the workflow runs here) for a chat another process holds:
        its card goes through the outbox, like a result."""
        route = self.routes.get(str(approval.subject.get("route") or ""))
        adapter = route.adapter if route is not None else approval.place.get("adapter")
        if adapter and str(adapter) not in self.held():
            channel = channel_of(str(adapter))
            item = OutboxItem.new(channel, INQUIRY, approval.id, key=approval.id)
            await self.store.outbox.put(item)


class OutboxDeliverer:
    """In the process holding a platform: delivers the outbox items stored for it."""

    def __init__(
        self,
        store: Store,
        cards: RunCards,
        post_routes: Callable[[Execution, str], Awaitable[None]],
        post_inquiry: Callable[[Approval], Awaitable[object]],
        holder: str,
        *,
        claim_seconds: float,
        now: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.cards = cards
        self.post_routes = post_routes
        self.post_inquiry = post_inquiry
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
        for item in items:
            if item.kind == KIND:
                execution = await self.store.executions.get(item.ref)
                if execution is not None:
                    await self.cards.on_completed(execution, adapter=adapter)
                    await self.post_routes(execution, adapter)
            elif item.kind == INQUIRY:
                approval = await self.store.approvals.get(item.ref)
                if approval is not None and approval.status is ApprovalStatus.PENDING:
                    await self.post_inquiry(approval)
            await self.store.outbox.done(item.id)
            self.delivered += 1
        return len(items)

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

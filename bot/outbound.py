"""Outbound chat: posts that retry, and run cards that always get their result.

``Delivery`` is the only way the bot posts: each send/edit is tried ``attempts`` times with
exponential backoff and jitter, then logged (without the message text, which may hold output)
and counted in ``failures`` for ``/healthz`` and ``squall doctor``.

``RunCards`` posts the ack card of an execution and, as an ExecutionService completion listener,
edits it with the result (or replies in its thread when the adapter cannot edit). The result comes
straight from the engine, never through a rule. Card handles live in memory; the execution's
``context.chat`` is the durable part: an execution started from chat whose card this process does
not know (it was requested before a restart) gets its result as a new message in that place.
Executions that completed while Squall was down are not re-posted.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from adapters.base import Capabilities, ChatAdapter, ChatPlace, OutgoingMessage, SentMessage
from bot.cards import ack_card, result_card
from core.executions.service import ExecutionService
from core.models import Execution

logger = logging.getLogger(__name__)

T = TypeVar("T")
# The alias ``result`` text for an execution (API dict), or None for the runner's default card.
ResultRenderer = Callable[[Mapping[str, Any]], str | None]


class DeliveryError(RuntimeError):
    """A post still failed after every attempt (already logged and counted)."""


class Delivery:
    def __init__(
        self, adapters: Mapping[str, ChatAdapter], *, attempts: int = 4, base_delay: float = 0.25
    ) -> None:
        self.adapters = adapters
        self.attempts = attempts
        self.base_delay = base_delay
        self.failures = 0

    def adapter(self, name: str) -> ChatAdapter:
        try:
            return self.adapters[name]
        except KeyError:
            known = ", ".join(sorted(self.adapters)) or "none"
            raise LookupError(f"unknown chat adapter {name!r} (running: {known})") from None

    def capabilities(self, name: str) -> Capabilities:
        return self.adapter(name).capabilities

    async def send(self, place: ChatPlace, message: OutgoingMessage) -> SentMessage:
        adapter = self.adapter(place.adapter)
        return await self._retry(
            f"post to {place.adapter}/{place.channel}", adapter.send, place, message
        )

    async def edit(self, sent: SentMessage, message: OutgoingMessage) -> SentMessage:
        adapter = self.adapter(sent.place.adapter)
        what = f"edit {sent.message_id} in {sent.place.adapter}/{sent.place.channel}"
        return await self._retry(what, adapter.edit, sent, message)

    async def reply_or_edit(self, sent: SentMessage, message: OutgoingMessage) -> SentMessage:
        """Edit in place where the adapter can, else reply in the message's thread."""
        if self.capabilities(sent.place.adapter).edits:
            return await self.edit(sent, message)
        place = sent.place
        thread = place.thread or sent.message_id
        reply_place = ChatPlace(place.adapter, place.channel, thread, None, place.is_direct)
        return await self.send(reply_place, message)

    async def _retry(
        self, what: str, call: Callable[[Any, OutgoingMessage], Awaitable[T]], *args: Any
    ) -> T:
        for attempt in range(1, self.attempts + 1):
            try:
                return await call(*args)
            except Exception as exc:
                if attempt == self.attempts:
                    self.failures += 1
                    logger.error("chat delivery failed: %s after %d tries: %s", what, attempt, exc)
                    raise DeliveryError(f"{what} failed after {attempt} tries: {exc}") from exc
                logger.warning("chat delivery retry: %s (try %d): %s", what, attempt, exc)
                await asyncio.sleep(backoff(attempt, self.base_delay))
        raise AssertionError("unreachable: attempts >= 1")


def backoff(attempt: int, base: float, cap: float = 30.0) -> float:
    """Exponential delay, half of it random, so many retries do not hit a platform together."""
    delay = min(cap, base * 2 ** (attempt - 1))
    return float(delay / 2 + random.uniform(0, delay / 2))


def place_from_context(context: Mapping[str, Any]) -> ChatPlace | None:
    """The chat place an execution was started from (``context.chat``), if any."""
    chat = context.get("chat")
    if not isinstance(chat, Mapping) or not chat.get("adapter") or not chat.get("channel"):
        return None
    thread = chat.get("thread") or chat.get("message")
    return ChatPlace(
        str(chat["adapter"]), str(chat["channel"]), thread, None, bool(chat.get("direct"))
    )


@dataclass
class _Card:
    """One posted ack (None until posted, or if posting failed) and how to show its result."""

    sent: asyncio.Future[SentMessage | None]
    render: ResultRenderer | None
    post_result: bool


class RunCards:
    def __init__(
        self, delivery: Delivery, executions: ExecutionService, *, ack_timeout: float = 30.0
    ) -> None:
        self.delivery = delivery
        self.executions = executions
        self.ack_timeout = ack_timeout
        self._cards: dict[str, _Card] = {}

    async def post_ack(
        self,
        place: ChatPlace,
        execution: Execution,
        text: str | None = None,
        *,
        render: ResultRenderer | None = None,
        post_result: bool = True,
    ) -> SentMessage | None:
        """Post the ack card; call it right after ``request`` so the result finds the card.

        ``render`` gives the alias ``result`` text (None: the runner's default card);
        ``post_result=False`` (an alias with ``result.enabled: false``) posts no result.
        """
        sent_future: asyncio.Future[SentMessage | None] = asyncio.get_running_loop().create_future()
        self._cards[execution.id] = _Card(sent_future, render, post_result)
        sent = None
        try:
            api = self.executions.to_api(execution)
            sent = await self.delivery.send(place, ack_card(api, text))
        except (DeliveryError, LookupError):
            logger.warning("ack card of execution %s not posted", execution.id)
        sent_future.set_result(sent)
        return sent

    async def on_completed(self, execution: Execution) -> None:
        """Completion listener: the result edits the card, or is posted where the run began."""
        known = self._cards.pop(execution.id, None)
        sent = None
        if known is not None:
            if not known.post_result:
                return
            async with asyncio.timeout(self.ack_timeout):
                sent = await known.sent
        place = sent.place if sent is not None else place_from_context(execution.context)
        if place is None or place.adapter not in self.delivery.adapters:
            return
        render = known.render if known is not None else None
        try:
            card = self.card(execution, self.delivery.capabilities(place.adapter), render)
            if sent is not None:
                await self.delivery.reply_or_edit(sent, card)
            else:
                await self.delivery.send(place, card)
        except DeliveryError:
            logger.warning("result of execution %s not posted", execution.id)

    def card(
        self,
        execution: Execution,
        capabilities: Capabilities,
        render: ResultRenderer | None = None,
    ) -> OutgoingMessage:
        api = self.executions.to_api(execution)
        return result_card(api, capabilities, render(api) if render is not None else None)

    async def post_result(self, execution_id: str, place: ChatPlace) -> SentMessage:
        """``chatops.post_result``: the result card of any execution, as a new message."""
        execution = await self.executions.get(execution_id)
        if execution is None:
            raise LookupError(f"execution {execution_id!r} not found")
        card = self.card(execution, self.delivery.capabilities(place.adapter))
        return await self.delivery.send(place, card)

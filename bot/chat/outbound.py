"""Outbound chat: posts that retry, and run cards that always get their result.

``Delivery`` is the only way the bot posts: each send/edit is tried ``attempts`` times with
exponential backoff and jitter, then logged (without the message text, which may hold output)
and counted in ``failures`` for ``/healthz`` and ``squall doctor``.

``RunCards`` posts the ack card of an execution and, as an ExecutionService completion listener,
edits it with the result (or replies in its thread when the adapter cannot edit). The result comes
straight from the engine, never through a rule. An execution started through an alias shows that
alias's ``result`` (found again by ``context.action_alias_ref``); ``result.enabled: false`` posts
no result (a card only gets its final status). Card handles live in memory; the execution's
``context.chat`` is the durable part: an execution started from chat whose card this process does
not know (it was requested before a restart) gets its result as a new message in that place.
Executions that completed while Squall was down are not re-posted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import secrets
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from adapters.base import (
    Capabilities,
    ChatAdapter,
    ChatEvent,
    ChatPlace,
    OutgoingMessage,
    SentMessage,
)
from bot.chat.cards import WORKFLOW_RUNNER, ack_card, result_card, status_card
from bot.chat.visible import show_bidi_controls
from core.aliases.render import render_result
from core.executions.service import ExecutionService
from core.models import Alias, Execution, ExecutionStatus, utcnow
from core.observe import metrics

logger = logging.getLogger(__name__)

T = TypeVar("T")


class ProgressTracker(Protocol):
    """What run cards need of workflow progress (bot.chat.progress.ProgressCards)."""

    def track(self, execution: Execution, sent: asyncio.Future[SentMessage | None]) -> None: ...

    async def finish(self, workflow_id: str) -> None: ...


RECENT_FAILURES = 20
# The alias an execution was started through (``context.action_alias_ref``), if it still exists.
AliasLookup = Callable[[str], Alias | None]


class DeliveryError(RuntimeError):
    """A post still failed after every attempt (already logged and counted)."""


@dataclass
class _DedupeScope:
    item: str
    posts: int = 0

    def next_key(self) -> str:
        """The key of the scope's next post: the same for the n-th post of an item in any
        process (25 characters: Discord's nonce limit)."""
        self.posts += 1
        return hashlib.sha256(f"{self.item}#{self.posts}".encode()).hexdigest()[:25]


_DEDUPE: ContextVar[_DedupeScope | None] = ContextVar("chat_dedupe", default=None)


@contextlib.contextmanager
def dedupe_posts(item_id: str) -> Iterator[None]:
    """Posts made inside (delivering outbox item ``item_id``) carry keys derived from the item,
    so a redelivery after the deliverer died posts nothing new where the platform dedupes."""
    token = _DEDUPE.set(_DedupeScope(item_id))
    try:
        yield
    finally:
        _DEDUPE.reset(token)


class Delivery:
    def __init__(
        self, adapters: Mapping[str, ChatAdapter], *, attempts: int = 4, base_delay: float = 0.25
    ) -> None:
        self.adapters = adapters
        self.attempts = attempts
        self.base_delay = base_delay
        self.failures = 0
        # The latest posts that failed every attempt: what, where, when, why (no message text).
        self.recent_failures: deque[dict[str, str]] = deque(maxlen=RECENT_FAILURES)

    def adapter(self, name: str) -> ChatAdapter:
        try:
            return self.adapters[name]
        except KeyError:
            known = ", ".join(sorted(self.adapters)) or "none"
            raise LookupError(f"unknown chat adapter {name!r} (running: {known})") from None

    def capabilities(self, name: str) -> Capabilities:
        return self.adapter(name).capabilities

    async def send(
        self, place: ChatPlace, message: OutgoingMessage, *, about: str = ""
    ) -> SentMessage:
        """Post ``message``; ``about`` (e.g. "result of execution X") names it if it is lost."""
        adapter = self.adapter(place.adapter)
        what = f"{about or 'post'} to {place.adapter}/{place.channel}"
        if message.dedupe_key is None:  # one key for every try of this post
            scope = _DEDUPE.get()
            key = scope.next_key() if scope is not None else secrets.token_hex(12)
            message = replace(message, dedupe_key=key)
        shown = show_bidi_controls(message)
        return await self._retry(place.adapter, what, adapter.send, place, shown)

    async def edit(
        self, sent: SentMessage, message: OutgoingMessage, *, about: str = ""
    ) -> SentMessage:
        adapter = self.adapter(sent.place.adapter)
        what = f"{about or 'edit'} ({sent.message_id}) in {sent.place.adapter}/{sent.place.channel}"
        shown = show_bidi_controls(message)
        return await self._retry(sent.place.adapter, what, adapter.edit, sent, shown)

    async def reply_or_edit(
        self, sent: SentMessage, message: OutgoingMessage, *, about: str = ""
    ) -> SentMessage:
        """Edit in place where the adapter can, else reply in the message's thread."""
        if self.capabilities(sent.place.adapter).edits:
            return await self.edit(sent, message, about=about)
        place = sent.place
        thread = place.thread or sent.message_id
        reply_place = ChatPlace(place.adapter, place.channel, thread, None, place.is_direct)
        return await self.send(reply_place, message, about=about)

    async def _retry(
        self,
        adapter: str,
        what: str,
        call: Callable[[Any, OutgoingMessage], Awaitable[T]],
        *args: Any,
    ) -> T:
        for attempt in range(1, self.attempts + 1):
            try:
                sent = await call(*args)
            except Exception as exc:
                if attempt == self.attempts:
                    metrics.CHAT_DELIVERIES.labels(adapter, "failed").inc()
                    self.failures += 1
                    self.recent_failures.append(
                        {"at": utcnow().isoformat(timespec="seconds"), "what": what,
                         "error": str(exc)[:300]}
                    )  # fmt: skip
                    logger.error("chat delivery failed: %s after %d tries: %s", what, attempt, exc)
                    raise DeliveryError(f"{what} failed after {attempt} tries: {exc}") from exc
                metrics.CHAT_DELIVERIES.labels(adapter, "retried").inc()
                logger.warning("chat delivery retry: %s (try %d): %s", what, attempt, exc)
                await asyncio.sleep(backoff(attempt, self.base_delay))
            else:
                metrics.CHAT_DELIVERIES.labels(adapter, "delivered").inc()
                return sent
        raise AssertionError("unreachable: attempts >= 1")


def reply_place(place: ChatPlace) -> ChatPlace:
    """Where answers to a message go: its thread in a channel, the conversation in a DM."""
    if place.is_direct:
        return ChatPlace(place.adapter, place.channel, place.thread, None, True)
    return ChatPlace(place.adapter, place.channel, place.thread or place.message_id)


class Replies:
    """Answers to the person who spoke: in their thread, privately where the adapter can."""

    def __init__(self, delivery: Delivery) -> None:
        self.delivery = delivery

    async def say(
        self, event: ChatEvent, reply: str | OutgoingMessage, *, private: bool = False
    ) -> SentMessage | None:
        message = OutgoingMessage(text=reply) if isinstance(reply, str) else reply
        if private:
            message = replace(message, ephemeral=True, audience=event.identity.user_id)
        try:
            return await self.delivery.send(reply_place(event.place), message)
        except (DeliveryError, LookupError):
            return None  # already logged and counted by Delivery


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
    """One posted ack: None until posted (or if posting failed)."""

    sent: asyncio.Future[SentMessage | None]
    message: OutgoingMessage | None = None  # the ack as posted, for its "running" edit
    ack_text: str | None = None  # the alias ack, if any
    # Orders the "running" edit before the result; set once the result is on its way.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    finished: bool = False


# A card says "running" when its execution still runs this long after it started.
RUNNING_SHOWN_AFTER_SECONDS = 1.0


class RunCards:
    def __init__(
        self,
        delivery: Delivery,
        executions: ExecutionService,
        *,
        aliases: AliasLookup = lambda ref: None,
        ack_timeout: float = 30.0,
        progress: ProgressTracker | None = None,
    ) -> None:
        self.delivery = delivery
        self.progress = progress
        self.executions = executions
        self.aliases = aliases
        self.ack_timeout = ack_timeout
        self._cards: dict[str, _Card] = {}
        # Executions with a card whose result is not posted yet (``serve`` at the end of piped
        # input waits for them).
        self._open: set[str] = set()
        self._editing: set[asyncio.Task[None]] = set()
        self._closed = False

    def open_executions(self) -> set[str]:
        return set(self._open)

    async def post_ack(
        self,
        place: ChatPlace,
        execution: Execution,
        text: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> SentMessage | None:
        """Post the ack card (``text`` and ``extra``: the alias ack); call it right after
        ``request`` so the result finds the card."""
        sent_future: asyncio.Future[SentMessage | None] = asyncio.get_running_loop().create_future()
        known = self._cards[execution.id] = _Card(sent_future)
        self._open.add(execution.id)
        if self.progress is not None and execution.runner_type == "orquesta":
            self.progress.track(execution, sent_future)
        sent = None
        try:
            api = self.executions.to_api(execution)
            card = ack_card(api, text)
            if extra:
                card = replace(card, extra=dict(extra))
            known.message, known.ack_text = card, text
            sent = await self.delivery.send(place, card, about=f"ack of execution {execution.id}")
        except (DeliveryError, LookupError):
            logger.warning("ack card of execution %s not posted", execution.id)
        sent_future.set_result(sent)
        return sent

    async def on_completed(self, execution: Execution, *, adapter: str | None = None) -> None:
        """Completion listener: the result edits the card, or is posted where the run began.

        ``adapter``: only if the result goes there (delivering the chat outbox of one platform).
        """
        try:
            await self._post_result(execution, adapter)
        finally:
            self._open.discard(execution.id)

    async def _post_result(self, execution: Execution, adapter: str | None) -> None:
        if self.progress is not None:
            await self.progress.finish(execution.id)
        known = self._cards.pop(execution.id, None)
        if known is None and execution.parent is not None:
            return  # a workflow's task: its workflow's card shows it
        sent = None
        if known is not None:
            known.finished = True
            async with known.lock:  # a "running" edit in flight lands first
                pass
            async with asyncio.timeout(self.ack_timeout):
                sent = await known.sent
        place = sent.place if sent is not None else place_from_context(execution.context)
        if place is None or place.adapter not in self.delivery.adapters:
            return  # another process holds that platform: it posts from the chat outbox
        if adapter is not None and place.adapter != adapter:
            return
        card = self.card(execution, self.delivery.capabilities(place.adapter))
        about = f"result of execution {execution.id}"
        edits = self.delivery.capabilities(place.adapter).edits
        try:
            if card is None and sent is not None and edits:
                status = status_card(self.executions.to_api(execution))
                await self.delivery.edit(sent, status, about=about)
            elif card is not None and sent is not None:
                await self.delivery.reply_or_edit(sent, card, about=about)
            elif card is not None:
                await self.delivery.send(place, card, about=about)
        except DeliveryError:
            logger.warning("result of execution %s not posted", execution.id)

    async def close(self) -> None:
        """Drop "running" edits still waiting for their moment (chat is stopping)."""
        self._closed = True
        for task in list(self._editing):
            task.cancel()
        await asyncio.gather(*self._editing, return_exceptions=True)

    # -- ExecutionObserver: a card shows "running" while its execution runs -----------------
    def created(self, execution: Execution) -> None:
        pass

    def updated(self, execution: Execution) -> None:
        known = self._cards.get(execution.id)
        if known is None or known.finished or execution.status is not ExecutionStatus.RUNNING:
            return
        if self._closed or execution.runner_type == WORKFLOW_RUNNER:
            return  # chat is stopping; a workflow's progress edits say more
        task = asyncio.create_task(self._show_running(known, execution))
        self._editing.add(task)
        task.add_done_callback(self._editing.discard)

    def output(self, execution: Execution, output_type: str, text: str) -> None:
        pass

    async def _show_running(self, known: _Card, execution: Execution) -> None:
        # Most runs end within a moment: their card goes straight to the result, without an
        # edit (a platform API call) that nobody would see.
        await asyncio.sleep(RUNNING_SHOWN_AFTER_SECONDS)
        await self._edit_running(known, execution)

    async def show_running(self, execution: Execution) -> None:
        """The card of ``execution`` (running in another process, bot.chat.relay) says so."""
        known = self._cards.get(execution.id)
        if known is not None and execution.status is ExecutionStatus.RUNNING:
            await self._edit_running(known, execution)

    async def _edit_running(self, known: _Card, execution: Execution) -> None:
        if known.finished:
            return
        async with known.lock:
            sent = await known.sent
            if known.finished or sent is None or known.message is None:
                return
            if not self.delivery.capabilities(sent.place.adapter).edits:
                return  # a new message per status would be noise
            fresh = ack_card(self.executions.to_api(execution), known.ack_text)
            running = replace(known.message, text=fresh.text, status=fresh.status)
            try:
                await self.delivery.edit(sent, running, about=f"execution {execution.id} running")
            except DeliveryError:
                logger.warning("running state of execution %s not shown", execution.id)

    def card(self, execution: Execution, capabilities: Capabilities) -> OutgoingMessage | None:
        """The result card; None when the execution's alias says ``result.enabled: false``."""
        api = self.executions.to_api(execution)
        alias_ref = execution.context.get("action_alias_ref")
        alias = self.aliases(alias_ref) if isinstance(alias_ref, str) else None
        if alias is None:
            return result_card(api, capabilities)
        rendered = render_result(alias, api)
        return None if rendered is None else result_card(api, capabilities, rendered)

    async def post_result(self, execution_id: str, place: ChatPlace) -> SentMessage:
        """``chatops.post_result``: the result card of any execution, as a new message."""
        execution = await self.executions.get(execution_id)
        if execution is None:
            raise LookupError(f"execution {execution_id!r} not found")
        api = self.executions.to_api(execution)
        card = result_card(api, self.delivery.capabilities(place.adapter))
        return await self.delivery.send(place, card)

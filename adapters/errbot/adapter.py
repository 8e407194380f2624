"""The errbot adapter: Squall's side of the bridge, on Squall's asyncio loop.

errbot is thread-based; the plugin (``adapters/errbot/plugin``) calls ``push`` from errbot's
worker threads and this adapter hands each event to the loop with ``call_soon_threadsafe``.
Posts go back through errbot's own ``send`` (thread-safe in every backend), run in a worker
thread so a slow backend never blocks the loop. errbot cannot edit messages, so results arrive
as replies; a private reply to a room message goes to the person directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable

from adapters.base import (
    AdapterState,
    Capabilities,
    ChatAdapter,
    ChatEvent,
    ChatPlace,
    OutgoingMessage,
    SentMessage,
)
from adapters.errbot.convert import to_markdown

__all__ = ["ERRBOT_CAPABILITIES", "ErrbotAdapter", "Sender"]

ERRBOT_CAPABILITIES = Capabilities(max_text=4000)
# (target identifier text, Markdown body) → posted by errbot.
Sender = Callable[[str, str], None]


class ErrbotAdapter(ChatAdapter):
    def __init__(self, send: Sender, *, name: str = "errbot") -> None:
        self.name = name
        self.capabilities = ERRBOT_CAPABILITIES
        self.state = AdapterState.STARTING
        self._send = send
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[ChatEvent | None] = asyncio.Queue()
        self._ids = itertools.count(1)

    async def connect(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.state = AdapterState.CONNECTED

    def push(self, event: ChatEvent) -> None:
        """From any thread (errbot's workers): queue one inbound event."""
        if self._loop is None:
            raise RuntimeError("the errbot bridge is not running yet")
        with contextlib.suppress(RuntimeError):  # the loop closed: Squall is stopping
            self._loop.call_soon_threadsafe(self._queue.put_nowait, event)

    async def events(self) -> AsyncIterator[ChatEvent]:
        while (event := await self._queue.get()) is not None:
            yield event

    async def send(self, place: ChatPlace, message: OutgoingMessage) -> SentMessage:
        target = place.channel
        if message.ephemeral and message.audience and not place.is_direct:
            target = message.audience  # errbot has no ephemeral messages: tell them directly
        await asyncio.to_thread(self._send, target, to_markdown(message))
        return SentMessage(place, str(next(self._ids)))

    async def edit(self, sent: SentMessage, message: OutgoingMessage) -> SentMessage:
        return await self.send(sent.place, message)  # not called: capabilities.edits is False

    async def close(self) -> None:
        self.state = AdapterState.CLOSED
        self._queue.put_nowait(None)

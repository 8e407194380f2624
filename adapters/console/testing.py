"""TestChat: drive the real console adapter in memory — push messages, await the replies.

Functional tests use it as a chat user would: ``chat.push("run core.echo message=hi")`` then
``await chat.wait_for(lambda p: "hi" in p.text, timeout=10)``. Nothing reads the terminal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from adapters.base import Capabilities, ChatPlace, ConnectionLost, OutgoingMessage, SentMessage
from adapters.console.adapter import CONSOLE_CAPABILITIES, ConsoleAdapter, ConsoleLine, Posted

__all__ = ["Posted", "TestChat"]


class _OutageConsole(ConsoleAdapter):
    """The console adapter whose platform can be told to refuse the next few posts."""

    failing_sends = 0

    async def send(self, place: ChatPlace, message: OutgoingMessage) -> SentMessage:
        if self.failing_sends > 0:
            self.failing_sends -= 1
            raise ConnectionLost("simulated chat platform outage")
        return await super().send(place, message)


class TestChat:
    __test__ = False  # a helper, not a pytest class

    def __init__(
        self,
        *,
        name: str = "console",
        user_id: str = "console",
        channel: str = "console",
        capabilities: Capabilities = CONSOLE_CAPABILITIES,
        one_reader: bool = False,
    ) -> None:
        """``one_reader``: behave as the real terminal, read by the console user only (tests
        often let several users type here)."""
        self.user_id = user_id
        self.channel = channel
        self.posted: list[Posted] = []
        self._observers: list[Callable[[Posted], None]] = []
        self._unread: asyncio.Queue[Posted] = asyncio.Queue()
        self.adapter = _OutageConsole(
            name=name,
            user_id=user_id,
            channel=channel,
            write=lambda text: None,
            observer=self._observe,
            capabilities=capabilities,
            read_stdin=False,
            one_reader=one_reader,
        )

    def _observe(self, posted: Posted) -> None:
        self.posted.append(posted)
        self._unread.put_nowait(posted)
        for observer in self._observers:
            observer(posted)

    def add_observer(self, observer: Callable[[Posted], None]) -> None:
        """Also call ``observer`` for every post and edit, as it happens (benchmarks time it)."""
        self._observers.append(observer)

    def drain(self) -> None:
        """Forget posts not yet read with ``next_message`` (and ``posted``): bounded memory."""
        self.posted.clear()
        while not self._unread.empty():
            self._unread.get_nowait()

    def fail_next_sends(self, count: int) -> None:
        """Make the next ``count`` posts fail as a platform outage would (ConnectionLost)."""
        self.adapter.failing_sends = count

    def push(
        self,
        text: str,
        *,
        user_id: str | None = None,
        channel: str | None = None,
        direct: bool = True,
        from_bot: bool = False,
    ) -> None:
        """Say ``text`` as ``user_id`` in ``channel`` (defaults: the console user and channel);
        ``direct=False`` says it in a shared channel, where the bot needs its prefix."""
        line = ConsoleLine(text, user_id or self.user_id, channel or self.channel, direct, from_bot)
        self.adapter.push(line)

    async def next_message(self, timeout: float = 10) -> Posted:
        """The next message posted or edited after the last one returned."""
        async with asyncio.timeout(timeout):
            return await self._unread.get()

    async def wait_for(self, predicate: Callable[[Posted], bool], timeout: float = 10) -> Posted:
        """Skip posts until one satisfies ``predicate``; TimeoutError names what was seen."""
        seen: list[str] = []
        try:
            async with asyncio.timeout(timeout):
                while not predicate(posted := await self._unread.get()):
                    seen.append(posted.text)
        except TimeoutError:
            raise TimeoutError(f"no matching message; seen: {seen!r}") from None
        return posted

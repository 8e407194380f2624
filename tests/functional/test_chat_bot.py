"""The chat bot loop: reconnects with backoff, fails fast on refused credentials, reports state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.base import (
    AdapterState,
    Capabilities,
    ChatAdapter,
    ChatEvent,
    ChatIdentity,
    ChatPlace,
    ConnectionLost,
    CredentialError,
    OutgoingMessage,
    SentMessage,
)
from bot.chat.loop import ChatBot
from bot.chat.outbound import backoff
from tests.conftest import poll_until


class ScriptedPlatform(ChatAdapter):
    """A platform whose connections fail as scripted: each entry is one connection's fate."""

    def __init__(self, fates: list[str]) -> None:
        self.name = "scripted"
        self.capabilities = Capabilities()
        self.fates = fates
        self.connects = 0
        self.incoming: asyncio.Queue[str] = asyncio.Queue()

    async def connect(self) -> None:
        self.connects += 1
        fate = self.fates.pop(0) if self.fates else "ok"
        if fate == "refused":
            raise CredentialError("invalid_auth")
        if fate == "down":
            raise ConnectionLost("no route to host")
        self.state = AdapterState.CONNECTED

    async def events(self) -> AsyncIterator[ChatEvent]:
        while True:
            text = await self.incoming.get()
            if text == "drop":
                raise ConnectionLost("socket closed")
            place = ChatPlace(self.name, "C1")
            yield ChatEvent(ChatIdentity(self.name, "T1", "U1"), place, text)

    async def send(self, place: ChatPlace, message: OutgoingMessage) -> SentMessage:
        return SentMessage(place, "1")

    async def edit(self, sent: SentMessage, message: OutgoingMessage) -> SentMessage:
        return sent

    async def close(self) -> None:
        self.state = AdapterState.CLOSED


async def test_refused_credentials_at_start_fail_fast_naming_the_adapter() -> None:
    bot = ChatBot([ScriptedPlatform(["refused"])], handler=_ignore)
    with pytest.raises(CredentialError, match="chat adapter 'scripted': invalid_auth"):
        await bot.start()
    assert bot.states() == {"scripted": "failed"}


async def test_lost_connections_are_retried_and_events_keep_flowing() -> None:
    platform = ScriptedPlatform(["down", "down", "ok", "ok"])
    seen: list[str] = []

    async def handler(adapter: ChatAdapter, event: ChatEvent) -> None:
        seen.append(event.text)

    bot = ChatBot([platform], handler, base_delay=0.01, max_delay=0.05)
    await bot.start()  # the first connect fails: not fatal
    await poll_until(lambda: platform.state is AdapterState.CONNECTED)
    assert platform.connects == 3
    platform.incoming.put_nowait("one")
    platform.incoming.put_nowait("drop")  # the socket dies mid-stream
    await poll_until(lambda: platform.connects == 4 and bot.states()["scripted"] == "connected")
    platform.incoming.put_nowait("two")
    await poll_until(lambda: seen == ["one", "two"])
    await bot.stop_intake()


async def test_credentials_refused_on_reconnect_mark_the_adapter_failed() -> None:
    platform = ScriptedPlatform(["ok", "refused"])
    bot = ChatBot([platform], _ignore, base_delay=0.01)
    await bot.start()
    platform.incoming.put_nowait("drop")
    await poll_until(lambda: bot.states() == {"scripted": "failed"})
    await bot.stop_intake()


def test_backoff_grows_and_stays_jittered_under_the_cap() -> None:
    for attempt, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (10, 30.0)):
        delay = backoff(attempt, 1.0)
        assert ceiling / 2 <= delay <= ceiling


async def _ignore(adapter: ChatAdapter, event: ChatEvent) -> None:
    return None

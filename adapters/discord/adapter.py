"""The Discord adapter: discord.py's gateway client with application commands and buttons.

Commands: ``/squall text:…`` takes any alias text or built-in (with autocomplete from what this
user may run, asked of the bot), and the ``/run`` group has one typed subcommand per alias that
maps cleanly (``CommandSpec``). Both are synced at start, per guild when guild ids are set
(instant), else globally. Every interaction is acknowledged at once (``defer``); the first
public reply edits the deferred response, later ones are follow-ups, and a card is edited in
place (through the interaction's token while it lives, then as the bot's own message).
Buttons are ``DynamicItem``s whose custom id is their text command, so a click on a card posted
before a restart still works and goes through the same permission check as typing it.

The gateway, reconnects (RESUME, exponential backoff) and rate limits are discord.py's. The
message-content intent is asked for only when prefix commands are on (``prefix_commands``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp
import discord
import yarl

from adapters.base import AdapterState, ChatEvent, ConnectionLost, CredentialError
from adapters.discord.base import DISCORD_CAPABILITIES, DiscordConfig
from adapters.discord.commands import DiscordCommandSync
from adapters.discord.components import CardButton, FormButton, SquallClient
from adapters.discord.delivery import DiscordDelivery

__all__ = ["DISCORD_CAPABILITIES", "DiscordAdapter", "DiscordConfig"]

logger = logging.getLogger(__name__)


# Squall never joins voice: discord.py's "PyNaCl is not installed, voice will NOT be supported"
# warning at every client start (and in `squall doctor`) tells users about nothing they use.
discord.VoiceClient.warn_nacl = False


class _Client(SquallClient):
    def __init__(self, adapter: DiscordAdapter, intents: discord.Intents) -> None:
        super().__init__(
            adapter, intents=intents, guild_ready_timeout=adapter.config.guild_ready_timeout
        )
        self.adapter = adapter

    async def setup_hook(self) -> None:
        self.add_dynamic_items(CardButton, FormButton)
        await self.adapter.sync_commands(self)

    async def on_ready(self) -> None:
        self.adapter.on_connected()

    async def on_resumed(self) -> None:
        self.adapter.on_connected()

    async def on_disconnect(self) -> None:
        self.adapter.on_disconnected()

    async def on_message(self, message: discord.Message) -> None:
        self.adapter.on_message(message)


class DiscordAdapter(DiscordCommandSync, DiscordDelivery):
    """The gateway connection; commands, interactions and delivery come from its bases."""

    # -- connection -----------------------------------------------------------------------
    def _intents(self) -> discord.Intents:
        intents = discord.Intents.default()
        intents.message_content = self.config.prefix_commands  # privileged: only when asked
        if not self.config.prefix_commands:
            intents.messages = False
        return intents

    def _point_at(self) -> None:
        # Only the test configuration sets these (a fake Discord on 127.0.0.1).
        if self.config.api_url:
            discord.http.Route.BASE = self.config.api_url.rstrip("/")
        if self.config.gateway_url:
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.config.gateway_url)

    async def connect(self) -> None:
        self.state = AdapterState.STARTING
        await self._stop_client()
        self._point_at()
        client = self.client = _Client(self, self._intents())
        self._ready.clear()
        try:
            await client.login(self.config.token)
        except discord.LoginFailure as exc:
            await client.close()
            raise CredentialError(f"Discord refused the bot token: {exc}") from None
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            await client.close()
            raise ConnectionLost(f"Discord unreachable: {exc}") from None
        self._runner = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
        ready = asyncio.create_task(self._ready.wait())
        done, _ = await asyncio.wait(
            {ready, self._runner},
            timeout=self.config.connect_timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        ready.cancel()
        if self._runner in done:
            raise self._runner_error()
        if not done:
            raise ConnectionLost("Discord gateway did not become ready in time")

    def _runner_error(self) -> Exception:
        assert self._runner is not None
        error = self._runner.exception() if not self._runner.cancelled() else None
        if isinstance(error, discord.PrivilegedIntentsRequired):
            return CredentialError(
                "Discord refused the message content intent: enable it for the bot "
                "(Developer Portal → Bot → Message Content Intent) or set prefix_commands: false"
            )
        if isinstance(error, discord.LoginFailure):
            return CredentialError(f"Discord refused the bot token: {error}")
        return ConnectionLost(f"Discord gateway closed: {error or 'stopped'}")

    def on_connected(self) -> None:
        self.state = AdapterState.CONNECTED
        self._ready.set()

    def on_disconnected(self) -> None:
        if self.state is not AdapterState.CLOSED:
            self.state = AdapterState.RECONNECTING

    async def events(self) -> AsyncIterator[ChatEvent]:
        while True:
            getting = asyncio.create_task(self._inbox.get())
            watched = {getting} | ({self._runner} if self._runner is not None else set())
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            if getting not in done:
                getting.cancel()
                if self.state is AdapterState.CLOSED:
                    return
                raise self._runner_error()
            event = getting.result()
            if event is None:
                return
            yield event

    async def close(self) -> None:
        self.state = AdapterState.CLOSED
        await self._stop_client()
        self._inbox.put_nowait(None)

    async def _stop_client(self) -> None:
        if self.client is not None and not self.client.is_closed():
            await self.client.close()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
            self._runner = None

    async def check(self) -> str | None:
        self._point_at()
        # The probe only logs in over HTTP; with the guilds intent discord.py does not warn
        # that "state related issues" may follow (they cannot: it never connects).
        probe = discord.Client(intents=discord.Intents(guilds=True))
        try:
            await probe.login(self.config.token)
        except discord.LoginFailure as exc:
            return f"Discord refused the bot token: {exc}"
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            return f"Discord unreachable: {exc}"
        finally:
            await probe.close()
        return None

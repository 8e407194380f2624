"""The chat bot loop: runs every adapter, hands each inbound event to one handler.

A bad credential at start fails fast (``squall serve`` exits saying which adapter); later a
refused credential marks the adapter ``failed`` (retrying cannot help). Any other error reconnects
with exponential backoff and full jitter. Each event is handled in its own task, so a slow
command never stops an adapter from reading. ``states()`` is what ``/healthz`` shows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from adapters.base import AdapterState, ChatAdapter, ChatEvent, CredentialError
from bot.chat.outbound import backoff

logger = logging.getLogger(__name__)

Handler = Callable[[ChatAdapter, ChatEvent], Awaitable[None]]


class ChatBot:
    def __init__(
        self,
        adapters: Sequence[ChatAdapter],
        handler: Handler,
        *,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
    ) -> None:
        self.adapters = {adapter.name: adapter for adapter in adapters}
        self.handler = handler
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._loops: dict[str, asyncio.Task[None]] = {}
        self._handling: set[asyncio.Task[None]] = set()

    def states(self) -> dict[str, str]:
        # An adapter whose lease another process holds is on standby here.
        return {
            name: "standby" if self._standby(name) else str(adapter.state)
            for name, adapter in self.adapters.items()
        }

    def _standby(self, name: str) -> bool:
        state = self.adapters[name].state
        return name not in self._loops and state not in (AdapterState.FAILED, AdapterState.CLOSED)

    async def start(self) -> None:
        """Connect every adapter (CredentialError propagates: fail fast), then read events."""
        for adapter in self.adapters.values():
            await self.start_adapter(adapter.name)

    async def start_adapter(self, name: str) -> None:
        """Connect one adapter and read its events (e.g. when this process takes its lease)."""
        adapter = self.adapters[name]
        connected = True
        try:
            await adapter.connect()
        except CredentialError as exc:
            adapter.state = AdapterState.FAILED
            raise CredentialError(f"chat adapter {adapter.name!r}: {exc}") from exc
        except Exception as exc:  # unreachable platform: keep trying in the background
            logger.warning("chat adapter %s: cannot connect yet: %s", adapter.name, exc)
            connected = False
        task = asyncio.create_task(self._serve(adapter, connected), name=f"chat-{adapter.name}")
        self._loops[name] = task

    async def stop_adapter(self, name: str) -> None:
        """Stop reading one adapter and close it (this process lost its lease)."""
        task = self._loops.pop(name, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        try:
            await self.adapters[name].close()
        except Exception:
            logger.exception("chat adapter %s did not close cleanly", name)

    async def stop_intake(self, grace: float = 5.0) -> None:
        """Stop reading events; give running handlers ``grace`` seconds, then cancel them.

        Adapters stay open (``close_adapters``) so results of executions that finish during
        the engine's shutdown grace can still be posted.
        """
        for task in self._loops.values():
            task.cancel()
        await asyncio.gather(*self._loops.values(), return_exceptions=True)
        if self._handling:
            await asyncio.wait(set(self._handling), timeout=grace)
        for task in self._handling:
            task.cancel()
        await asyncio.gather(*self._handling, return_exceptions=True)

    async def wait_handled(self) -> None:
        """Until every event handed out so far has been handled."""
        while self._handling:
            await asyncio.wait(set(self._handling))

    async def _serve(self, adapter: ChatAdapter, connected: bool) -> None:
        attempt = 0
        while adapter.state is not AdapterState.CLOSED:
            try:
                if not connected:
                    adapter.state = AdapterState.STARTING
                    await adapter.connect()
                attempt = 0
                async for event in adapter.events():
                    self._dispatch(adapter, event)
                return  # the adapter ended its stream on purpose (closed, or stdin at EOF)
            except CredentialError as exc:
                adapter.state = AdapterState.FAILED
                logger.error("chat adapter %s: credentials refused: %s", adapter.name, exc)
                return
            except Exception as exc:
                attempt += 1
                connected = False
                adapter.state = AdapterState.RECONNECTING
                delay = backoff(attempt, self.base_delay, self.max_delay)
                logger.warning(
                    "chat adapter %s lost (%s); reconnecting in %.1fs", adapter.name, exc, delay
                )
                await asyncio.sleep(delay)

    def _dispatch(self, adapter: ChatAdapter, event: ChatEvent) -> None:
        if event.from_self:
            return
        task = asyncio.create_task(self._handle(adapter, event))
        self._handling.add(task)
        task.add_done_callback(self._handling.discard)

    async def _handle(self, adapter: ChatAdapter, event: ChatEvent) -> None:
        try:
            await self.handler(adapter, event)
        except Exception:
            logger.exception("chat event from %s could not be handled", event.identity.key)


async def close_adapters(adapters: Sequence[ChatAdapter]) -> None:
    for adapter in adapters:
        try:
            await adapter.close()
        except Exception:
            logger.exception("chat adapter %s did not close cleanly", adapter.name)

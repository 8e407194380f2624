"""Squall inside a host that is not asyncio (errbot): the engine on its own loop thread.

``EmbeddedSquall.start`` runs the same composition as ``squall serve`` — engine, chat with the
given adapters, the web listener when ``http.enabled`` — on one long-lived event loop in a
daemon thread, and returns once it is up (or raises what stopped it). Calls from the host's
threads go through ``call`` (``run_coroutine_threadsafe``), never ``asyncio.run``: everything
(store, aiohttp sessions, timers) lives on that one loop. ``stop`` shuts down as serve does:
intake first, running executions get their grace, adapters close last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from adapters.base import ChatAdapter
from bot.app import Engine, open_engine
from bot.chat.loop import close_adapters
from bot.chat.runtime import ChatRuntime, open_chat
from bot.http.app import build_web_app
from bot.http.listener import listening
from bot.settings import Settings

__all__ = ["EmbeddedSquall"]

logger = logging.getLogger(__name__)
T = TypeVar("T")


class EmbeddedSquall:
    def __init__(self, settings: Settings, adapters: Sequence[ChatAdapter]) -> None:
        self.settings = settings
        self.adapters = list(adapters)
        self.loop = asyncio.new_event_loop()
        self.engine: Engine | None = None
        self.chat: ChatRuntime | None = None
        self._thread = threading.Thread(target=self._run, name="squall-core-loop", daemon=True)
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._stop: asyncio.Event | None = None

    def start(self, timeout: float = 60.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"Squall did not start within {timeout:.0f}s")
        if self._failure is not None:
            raise RuntimeError(f"Squall could not start: {self._failure}") from self._failure

    def call(self, work: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run ``work`` on Squall's loop from another thread and wait for its result."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("call() from Squall's own loop would deadlock; await instead")
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def stop(self, timeout: float = 60.0) -> None:
        if self._stop is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as exc:  # reported to start() or logged: never a silent thread death
            self._failure = exc
            logger.exception("embedded Squall stopped with an error")
        finally:
            self._ready.set()
            with contextlib.suppress(Exception):
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with contextlib.AsyncExitStack() as stack:
            stack.push_async_callback(close_adapters, self.adapters)
            self.engine = await stack.enter_async_context(open_engine(self.settings))
            self.chat = await stack.enter_async_context(open_chat(self.engine, self.adapters))
            if self.settings.http.enabled:
                await self._listen(stack, self.engine, self.chat)
            self._ready.set()
            stopped = asyncio.create_task(self._stop.wait())
            quit_requested = asyncio.create_task(self.chat.commands.stop_requested.wait())
            await asyncio.wait({stopped, quit_requested}, return_when=asyncio.FIRST_COMPLETED)
            for task in (stopped, quit_requested):
                task.cancel()

    async def _listen(
        self, stack: contextlib.AsyncExitStack, engine: Engine, chat: ChatRuntime
    ) -> None:
        app = build_web_app(engine, chat_health=chat.health, adapters=self.adapters)
        await stack.enter_async_context(listening(app, self.settings.http))

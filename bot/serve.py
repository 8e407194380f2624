"""``squall serve``: the engine, the web listener and every chat adapter in one process.

Everything is entered on one AsyncExitStack and unwinds in reverse: chat intake stops first,
then the listener, then the engine (running executions get ``executions.shutdown_grace_seconds``
to finish, the rest are abandoned), and the adapters close last so late results still post.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiohttp import web

from bot.app import open_engine
from bot.chat.loop import close_adapters
from bot.chat.runtime import configured_adapters, open_chat
from bot.http.app import build_web_app
from bot.logs import configure_logging
from bot.sensors import run_sensors
from bot.settings import Settings

logger = logging.getLogger(__name__)


async def serve_forever(settings: Settings, *, console: bool = True) -> int:
    configure_logging(settings.log.level, settings.log.format)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        roles = settings.cluster
        adapters = configured_adapters(settings, console=console) if roles.has("chat") else []
        stack.push_async_callback(close_adapters, adapters)
        engine = await stack.enter_async_context(open_engine(settings))
        # Entered after the engine, so the sensors stop (cleanup, SIGTERM, SIGKILL) before it.
        sensors = await stack.enter_async_context(run_sensors(engine, settings))
        chat = await stack.enter_async_context(open_chat(engine, adapters)) if adapters else None
        if settings.http.enabled and roles.has("http"):
            health = chat.health if chat is not None else None
            app = build_web_app(engine, chat_health=health, adapters=adapters, sensors=sensors)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            await web.TCPSite(runner, settings.http.host, settings.http.port).start()
            logger.warning("listening on http://%s:%s", settings.http.host, settings.http.port)
        logger.warning("serving as %s (roles: %s)", engine.cluster.holder, ", ".join(roles.roles))
        waits = {asyncio.create_task(stop.wait())}
        if chat is not None:
            waits.add(asyncio.create_task(chat.commands.stop_requested.wait()))
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            task.cancel()
        logger.warning("shutting down")
    return 0

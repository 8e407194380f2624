"""``squall serve``: the engine, the web listener and the console in one process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from aiohttp import web

from bot.app import open_engine
from bot.console import Console, stdin_reader
from bot.logs import configure_logging
from bot.settings import Settings
from bot.web import build_web_app

logger = logging.getLogger(__name__)


async def serve_forever(settings: Settings, *, console: bool = True) -> int:
    configure_logging(settings.log.level, settings.log.format)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        engine = await stack.enter_async_context(open_engine(settings))
        if settings.http.enabled:
            runner = web.AppRunner(build_web_app(engine), access_log=None)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            await web.TCPSite(runner, settings.http.host, settings.http.port).start()
            logger.warning("listening on http://%s:%s", settings.http.host, settings.http.port)
        waiters: list[asyncio.Task[object]] = [asyncio.create_task(stop.wait())]
        if console:
            prompt = Console(engine)
            try:
                reader = await stdin_reader()
            except (OSError, ValueError) as exc:  # stdin is a regular file or closed
                logger.warning("console disabled: %s", exc)
            else:
                waiters.append(asyncio.create_task(_console_until_quit(prompt, reader)))
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in waiters:
            task.cancel()
        logger.warning("shutting down")
    return 0


async def _console_until_quit(prompt: Console, reader: asyncio.StreamReader) -> None:
    await prompt.run(reader)
    if not prompt.stop_requested.is_set():
        await asyncio.Event().wait()  # stdin closed: keep serving until a signal

"""``squall serve``: the engine, the web listener and every chat adapter in one process.

Everything is entered on one AsyncExitStack and unwinds in reverse: chat intake stops first,
then the listener, then the engine (running executions get ``executions.shutdown_grace_seconds``
to finish, the rest are abandoned), and the adapters close last so late results still post.

It stops on SIGTERM/SIGINT, on ``quit`` (console), on Ctrl-C/Ctrl-D at the console prompt, and
when piped console input has ended and the runs it started have finished (their results are
printed first): ``printf 'noop\\n' | squall serve`` is a script.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import Coroutine, Iterator, Sequence
from typing import Any

from adapters.base import ChatAdapter
from adapters.console import ConsoleAdapter
from bot.app import Engine, open_engine
from bot.chat.loop import close_adapters
from bot.chat.runtime import ChatRuntime, configured_adapters, open_chat
from bot.heap import freeze_startup_heap, refreeze_after_reload
from bot.http.app import build_web_app
from bot.http.listener import listening
from bot.logs import configure_logging
from bot.pack_admin import PackAdmin
from bot.reload import ContentReloads, snapshot, watch_forever, watched_paths
from bot.sensors import reload_sensors, run_sensors
from bot.settings import Settings
from core.models import ExecutionStatus
from core.runners.registry import connect_pack_manager

logger = logging.getLogger(__name__)

# Executions that wait for a person (an approval, an inquiry): piped input cannot answer them.
WAITING_FOR_PEOPLE = frozenset({ExecutionStatus.PENDING, ExecutionStatus.PAUSED})
SETTLE_POLL_SECONDS = 0.05


async def serve_forever(settings: Settings, *, console: bool = True) -> int:
    chat_here = settings.cluster.has("chat")
    adapters = configured_adapters(settings, console=console) if chat_here else []
    terminal = _console(adapters)
    with _log_destination(settings, terminal):
        return await _serve(settings, adapters, terminal)


async def _serve(
    settings: Settings, adapters: list[ChatAdapter], terminal: ConsoleAdapter | None
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with contextlib.AsyncExitStack() as stack:
        roles = settings.cluster
        stack.push_async_callback(close_adapters, adapters)
        engine = await stack.enter_async_context(open_engine(settings))
        # Entered after the engine, so the sensors stop (cleanup, SIGTERM, SIGKILL) before it.
        sensors = await stack.enter_async_context(run_sensors(engine, settings))
        chat = await stack.enter_async_context(open_chat(engine, adapters)) if adapters else None
        reloads = _content_reloads(stack, engine)
        connect_pack_manager(engine.executions.runners, PackAdmin(reloads))
        if sensors is not None:
            reloads.after_apply.append(functools.partial(reload_sensors, engine, sensors))
        # Everything is loaded and started (bot/heap.py); before the listener answers anyone,
        # so no request waits for this one full collection.
        freeze_startup_heap()
        reloads.after_apply.append(refreeze_after_reload)
        if settings.http.enabled and roles.has("http"):
            health = chat.health if chat is not None else None
            app = build_web_app(
                engine, chat_health=health, adapters=adapters, sensors=sensors, reloads=reloads
            )
            await stack.enter_async_context(listening(app, settings.http))
            logger.info("listening on http://%s:%s", settings.http.host, settings.http.port)
        logger.info("serving as %s (roles: %s)", engine.cluster.holder, ", ".join(roles.roles))
        reasons: list[Coroutine[Any, Any, object]] = [stop.wait()]
        if chat is not None:
            reasons.append(chat.commands.stop_requested.wait())
            if terminal is not None:
                reasons.append(terminal.stop_requested.wait())
                reasons.append(_scripted_input_done(terminal, chat, engine))
        waiting = [asyncio.create_task(reason) for reason in reasons]
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        for task in waiting:
            task.cancel()
        logger.warning("shutting down")
    return 0


def _content_reloads(stack: contextlib.AsyncExitStack, engine: Engine) -> ContentReloads:
    """Reload on SIGHUP, and on file changes with ``packs.watch``; see bot/reload.py."""
    reloads = ContentReloads(engine)
    running: set[asyncio.Task[list[str]]] = set()

    def on_hangup() -> None:
        task = asyncio.create_task(reloads.reload("SIGHUP"))
        running.add(task)
        task.add_done_callback(running.discard)

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, on_hangup)
    stack.callback(loop.remove_signal_handler, signal.SIGHUP)
    if engine.settings.packs.watch:
        loaded = snapshot(watched_paths(engine))  # before the listener answers anyone
        watcher = asyncio.create_task(
            watch_forever(reloads, engine.settings.packs.watch_interval_seconds, loaded)
        )
        stack.push_async_callback(_cancel, watcher)
    return reloads


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _console(adapters: Sequence[ChatAdapter]) -> ConsoleAdapter | None:
    return next((a for a in adapters if isinstance(a, ConsoleAdapter)), None)


@contextlib.contextmanager
def _log_destination(settings: Settings, terminal: ConsoleAdapter | None) -> Iterator[None]:
    """Logs go to stderr, or to ``log.console_file`` while the console chat has the terminal
    (log lines would run through the prompt and the cards)."""
    if terminal is None or not terminal.interactive:
        configure_logging(settings.log.level, settings.log.format)
        yield
        return
    path = settings.log.console_file
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        configure_logging(settings.log.level, settings.log.format, stream=file)
        print(f"Logs go to {path}.")
        try:
            yield
        finally:
            configure_logging(settings.log.level, settings.log.format)


async def _scripted_input_done(terminal: ConsoleAdapter, chat: ChatRuntime, engine: Engine) -> None:
    """Returns when piped input has ended, every line was handled and every run it started has
    posted its result — except runs that wait for a person, which piped input cannot answer."""
    await terminal.input_done.wait()
    await chat.bot.wait_handled()
    while True:
        unsettled = []
        for execution_id in chat.cards.open_executions():
            execution = await engine.store.executions.get(execution_id)
            if execution is None or execution.status not in WAITING_FOR_PEOPLE:
                unsettled.append(execution_id)
        if not unsettled:
            return
        await asyncio.sleep(SETTLE_POLL_SECONDS)

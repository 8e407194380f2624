"""The interactive console prompt of ``squall serve`` (replaced by console chat later)."""

from __future__ import annotations

import asyncio
import shlex
import sys
from collections.abc import Awaitable, Callable
from typing import TextIO

from bot.app import Engine
from bot.cli_commands import EXECUTION_COLUMNS, describe_error, parse_params
from bot.render import execution_summary, table
from core.executions.api import parameter_schema
from core.store import ExecutionQuery

HELP = """commands:
  run REF [k=v ...]     run an action, e.g.  run core.echo message=hi
  executions [N]        the N most recent executions (default 10)
  execution ID          show one execution
  cancel ID             cancel an execution
  actions               list actions
  help                  this text
  quit                  stop Squall"""


class Console:
    """Reads commands line by line and prints results; never blocks the event loop."""

    def __init__(self, engine: Engine, out: TextIO = sys.stdout) -> None:
        self.engine = engine
        self.out = out
        self.stop_requested = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._handlers: dict[str, Callable[[list[str]], Awaitable[None]]] = {
            "run": self._run,
            "executions": self._executions,
            "execution": self._execution,
            "cancel": self._cancel,
            "actions": self._actions,
            "help": self._help,
            "quit": self._quit,
            "exit": self._quit,
        }

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    async def handle_line(self, line: str) -> None:
        try:
            words = shlex.split(line)
        except ValueError as exc:
            self.say(f"error: {exc}")
            return
        if not words:
            return
        handler = self._handlers.get(words[0])
        if handler is None:
            self.say(f"unknown command {words[0]!r}; type 'help'")
            return
        try:
            await handler(words[1:])
        except Exception as exc:
            self.say(f"error: {describe_error(exc)}")

    async def _run(self, words: list[str]) -> None:
        if not words:
            raise ValueError("usage: run REF [k=v ...]")
        service = self.engine.executions
        action = service.action(words[0])
        params = parse_params(parameter_schema(action), words[1:])
        execution = await service.request(action.ref, params, context={"user": "console"})
        self.say(f"execution {execution.id} requested ({action.ref})")
        task = asyncio.create_task(self._report(execution.id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _report(self, execution_id: str) -> None:
        done = await self.engine.executions.wait(execution_id)
        self.say(execution_summary(self.engine.executions.to_api(done)))

    async def _executions(self, words: list[str]) -> None:
        limit = int(words[0]) if words else 10
        found = await self.engine.store.executions.list(ExecutionQuery(limit=limit))
        apis = [self.engine.executions.to_api(e) for e in found]
        rows = [{**a, "action": a["action"]["ref"], "user": a["context"].get("user")} for a in apis]
        self.say(table(rows, EXECUTION_COLUMNS))

    async def _execution(self, words: list[str]) -> None:
        execution = await self.engine.store.executions.get(words[0] if words else "")
        if execution is None:
            raise LookupError("execution not found")
        self.say(execution_summary(self.engine.executions.to_api(execution)))

    async def _cancel(self, words: list[str]) -> None:
        execution = await self.engine.executions.cancel(words[0] if words else "", "console")
        self.say(f"execution {execution.id}: {execution.status}")

    async def _actions(self, words: list[str]) -> None:
        actions = sorted(self.engine.content.index.actions.values(), key=lambda a: a.ref)
        self.say(table([a.to_api() for a in actions], ("ref", "runner_type", "description")))

    async def _help(self, words: list[str]) -> None:
        self.say(HELP)

    async def _quit(self, words: list[str]) -> None:
        self.stop_requested.set()

    async def run(self, reader: asyncio.StreamReader) -> None:
        self.say("Squall console. Type 'help' for commands.")
        while not self.stop_requested.is_set():
            line = await reader.readline()
            if not line:  # EOF: keep serving without a prompt
                return
            await self.handle_line(line.decode(errors="replace").strip())


async def stdin_reader() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader

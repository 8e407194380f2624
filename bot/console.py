"""Built-in chat commands: the seam where the inbound pipeline (``bot/inbound.py``) plugs in.

Until aliases, permissions and approvals land, every chat event goes to ``BuiltinCommands``:
``run``, ``executions``, ``execution``, ``cancel``, ``actions``, ``help`` and (from the console
only) ``quit``. ``run`` posts a run card that the result later edits in place.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from collections.abc import Awaitable, Callable

from adapters.base import ChatAdapter, ChatEvent, OutgoingMessage
from bot.app import Engine
from bot.cli_commands import EXECUTION_COLUMNS, describe_error, parse_params
from bot.outbound import Delivery, DeliveryError, RunCards
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
  quit                  stop Squall (console only)"""

Command = Callable[[ChatEvent, list[str]], Awaitable[str | None]]


def command_text(event: ChatEvent, prefix: str) -> str | None:
    """The command in ``event``: prefixed in a channel, as-is when addressed or direct."""
    text = event.text.strip()
    if prefix and text.startswith(prefix):
        return text[len(prefix) :].strip()
    if event.mentioned or event.place.is_direct:
        return text
    return None


class BuiltinCommands:
    def __init__(self, engine: Engine, delivery: Delivery, cards: RunCards, prefix: str) -> None:
        self.engine = engine
        self.delivery = delivery
        self.cards = cards
        self.prefix = prefix
        self.stop_requested = asyncio.Event()
        self._commands: dict[str, Command] = {
            "run": self._run,
            "executions": self._executions,
            "execution": self._execution,
            "cancel": self._cancel,
            "actions": self._actions,
            "help": self._help,
            "quit": self._quit,
            "exit": self._quit,
        }

    async def __call__(self, adapter: ChatAdapter, event: ChatEvent) -> None:
        text = command_text(event, self.prefix)
        if not text:
            return
        reply = await self.reply_to(event, text)
        if reply:
            with contextlib.suppress(DeliveryError):  # already logged and counted
                await self.delivery.send(event.place, OutgoingMessage(text=reply))

    async def reply_to(self, event: ChatEvent, text: str) -> str | None:
        try:
            words = shlex.split(text)
        except ValueError as exc:
            return f"error: {exc}"
        command = self._commands.get(words[0]) if words else None
        if command is None:
            return f"unknown command {words[0]!r}; type 'help'" if words else None
        try:
            return await command(event, words[1:])
        except Exception as exc:
            return f"error: {describe_error(exc)}"

    async def _run(self, event: ChatEvent, words: list[str]) -> str | None:
        if not words:
            raise ValueError("usage: run REF [k=v ...]")
        service = self.engine.executions
        action = service.action(words[0])
        params = parse_params(parameter_schema(action), words[1:])
        context = {"user": event.identity.key, "chat": event.place.to_context()}
        execution = await service.request(action.ref, params, context=context)
        await self.cards.post_ack(event.place, execution)
        return None

    async def _executions(self, event: ChatEvent, words: list[str]) -> str:
        limit = int(words[0]) if words else 10
        found = await self.engine.store.executions.list(ExecutionQuery(limit=limit))
        apis = [self.engine.executions.to_api(e) for e in found]
        rows = [{**a, "action": a["action"]["ref"], "user": a["context"].get("user")} for a in apis]
        return table(rows, EXECUTION_COLUMNS)

    async def _execution(self, event: ChatEvent, words: list[str]) -> str:
        execution = await self.engine.store.executions.get(words[0] if words else "")
        if execution is None:
            raise LookupError("execution not found")
        return execution_summary(self.engine.executions.to_api(execution))

    async def _cancel(self, event: ChatEvent, words: list[str]) -> str:
        execution = await self.engine.executions.cancel(
            words[0] if words else "", event.identity.key
        )
        return f"execution {execution.id}: {execution.status}"

    async def _actions(self, event: ChatEvent, words: list[str]) -> str:
        actions = sorted(self.engine.content.index.actions.values(), key=lambda a: a.ref)
        return table([a.to_api() for a in actions], ("ref", "runner_type", "description"))

    async def _help(self, event: ChatEvent, words: list[str]) -> str:
        return HELP

    async def _quit(self, event: ChatEvent, words: list[str]) -> str:
        if event.identity.adapter != "console":
            return "quit works on the console only"
        self.stop_requested.set()
        return "stopping Squall"

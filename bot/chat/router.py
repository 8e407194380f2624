"""The chat router: a built-in command when the first word names one, else an action alias.

Built-ins answer questions about Squall itself (help, status, executions, approvals, whoami) and
act on executions and approvals (cancel, rerun, approve, deny, run). ``run REF`` is a built-in
only when REF is an action, so an alias such as ``run {{cmd}} on {{hosts}}`` keeps working.
Every command that starts or stops something goes through a permission check; refusals are
answered privately where the adapter can.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from bot.app import Engine
from bot.chat.inbound import Turn
from bot.chat.launch import Launch, Launcher, PermissionRefused
from bot.chat.outbound import Replies
from bot.chat.render import EXECUTION_COLUMNS, describe_error, execution_summary, table
from core.aliases import AliasMatch, AmbiguousAliasMatch, NoAliasMatch
from core.aliases.commands import call_parameters
from core.aliases.params import alias_parameters
from core.aliases.parser import literal_score
from core.approvals.service import ApprovalRefused, yes_no_response
from core.authz.authorizer import Decision, SquallUser, authorize_execution
from core.executions.api import parameter_schema, settable_parameters
from core.executions.service import ExecutionError
from core.kv.lookup import kv_context
from core.models import Alias, Execution
from core.models.alias import AliasFormat
from core.models.approval import Approval
from core.models.chat import AliasCall, ChatIdentity, ChatPlace, OutgoingMessage
from core.params import ParameterError, merge_parameter_schemas
from core.params.casts import parse_params
from core.runners.types import RUNNER_TYPES
from core.store import ExecutionQuery

__all__ = ["BUILTINS", "ChatCommands"]

Health = Callable[[], Mapping[str, Any]]
_Handler = Callable[["ChatCommands", Turn, list[str]], Awaitable[None]]


@dataclass(frozen=True)
class Builtin:
    usage: str
    summary: str
    handler: _Handler


BUILTINS: dict[str, Builtin] = {}


def builtin(name: str, usage: str, summary: str) -> Callable[[_Handler], _Handler]:
    def register(handler: _Handler) -> _Handler:
        BUILTINS[name] = Builtin(usage, summary, handler)
        return handler

    return register


# Refusal and error replies go to the speaker only; answers to questions go to the thread.
PRIVATE: Final = True
MAX_LISTED: Final = 50


class ChatCommands:
    def __init__(
        self,
        engine: Engine,
        replies: Replies,
        launcher: Launcher,
        *,
        prefix: str,
        health: Health = dict,
    ) -> None:
        self.engine = engine
        self.replies = replies
        self.launcher = launcher
        self.prefix = prefix
        self.health = health
        self.started = time.monotonic()
        self.stop_requested = asyncio.Event()

    async def route(self, turn: Turn) -> None:
        if turn.event.alias_call is not None:
            await self._guarded(turn, self.run_alias_call(turn, turn.event.alias_call))
            return
        first = turn.text.split(maxsplit=1)[0].lower()
        command = BUILTINS.get(first)
        if command is not None and (first != "run" or self._names_action(turn.text)):
            try:
                words = shlex.split(turn.text)[1:]
            except ValueError:  # an apostrophe in JSON (respond) or a stray quote: plain words
                words = turn.text.split()[1:]
            await self._guarded(turn, command.handler(self, turn, words))
            return
        await self._guarded(turn, self.run_alias(turn))

    def _names_action(self, text: str) -> bool:
        words = text.split()
        return len(words) > 1 and words[1] in self.engine.content.index.actions

    async def _guarded(self, turn: Turn, work: Awaitable[None]) -> None:
        try:
            await work
        except (PermissionRefused, ApprovalRefused) as exc:
            await self.say(turn, str(exc), private=PRIVATE)
        except (ParameterError, ExecutionError, LookupError, ValueError) as exc:
            await self.say(turn, f"error: {describe_error(exc)}", private=PRIVATE)

    async def say(self, turn: Turn, reply: str | OutgoingMessage, *, private: bool = False) -> None:
        await self.replies.say(turn.event, reply, private=private)

    # -- aliases ----------------------------------------------------------------------------
    async def run_alias(self, turn: Turn) -> None:
        try:
            matches = self.engine.aliases.match(turn.text)
        except AmbiguousAliasMatch as exc:
            shown = "\n".join(f"  {c.display or c.representation}" for c in exc.candidates)
            await self.say(turn, f"That could mean several commands:\n{shown}", private=PRIVATE)
            return
        except NoAliasMatch:
            word = turn.text.split(maxsplit=1)[0]
            await self.say(turn, self._no_match_reply(turn, word), private=PRIVATE)
            return
        await self._launch_matches(turn, matches)

    async def run_alias_call(self, turn: Turn, call: AliasCall) -> None:
        """A generated alias command: its values stand for matching the format."""
        alias = self.engine.content.index.aliases.get(call.alias_ref)
        if alias is None or not alias.enabled:
            raise LookupError(f"alias {call.alias_ref} is not available")
        if not any(call.representation in f.representations for f in alias.formats):
            raise LookupError(f"alias {call.alias_ref} has no format {call.representation!r}")
        display = next(f.display for f in alias.formats if call.representation in f.representations)
        parameters = call_parameters(call.representation, call.values)
        score = literal_score(call.representation)
        await self._launch_matches(
            turn, [AliasMatch(alias, call.representation, display, parameters, score)]
        )

    async def _launch_matches(self, turn: Turn, matches: list[AliasMatch]) -> None:
        for match in matches:
            action = self.engine.content.index.get_action(match.alias.action_ref)
            context = _alias_context(turn.squall_user, match.alias, turn.place.channel)
            kv = await self._kv_for(match.alias, turn.squall_user)
            runner = RUNNER_TYPES.get(action.runner_type)
            params = alias_parameters(match, action, kv=kv, context=context, runner=runner)
            fixed = {k: params[k] for k in match.alias.immutable_parameters if k in params}
            await self.launcher.launch(turn, Launch(action.ref, params, match.alias, fixed))

    async def suggest(self, identity: ChatIdentity, place: ChatPlace, typed: str) -> list[str]:
        """Completions for a half-typed command: the alias formats this identity may run here
        and the built-ins, containing what was typed (at most 25, as Discord shows)."""
        user = self.engine.authz.user_for(identity)
        needle = typed.strip().lower()
        formats = [
            fmt.display
            for alias in self.visible_aliases(user, place.channel)
            for fmt in alias.formats
            if fmt.display and needle in fmt.display.lower()
        ]
        builtins = [b.usage for b in BUILTINS.values() if needle in b.usage.lower()]
        return list(dict.fromkeys([*formats, *builtins]))[:25]

    async def _kv_for(self, alias: Alias, user: SquallUser) -> Mapping[str, Any] | None:
        if "st2kv" not in json.dumps(dict(alias.immutable_parameters), default=str):
            return None
        return await kv_context(self.engine.kv, user.name)

    # -- helpers ----------------------------------------------------------------------------
    async def execution_for(self, turn: Turn, words: list[str]) -> Execution:
        if not words:
            raise ValueError("which execution? give its id")
        execution = await self.engine.executions.get(words[0])
        if execution is None or not self.may_view(turn.squall_user, execution):
            raise LookupError(f"execution {words[0]} not found")
        return execution

    def may_view(self, user: SquallUser, execution: Execution) -> bool:
        if execution.context.get("user") == user.name:
            return True
        alias = execution.context.get("action_alias_ref")
        return self.engine.authz.may_see(
            user,
            action_ref=execution.action_ref,
            alias_ref=alias if isinstance(alias, str) else None,
            channel=None,
        )

    async def may_stop(self, turn: Turn, execution: Execution) -> None:
        """Its owner may cancel it, and anyone allowed to run it with these parameters."""
        user = turn.squall_user
        if execution.context.get("user") == user.name:
            decision = Decision(True, "the user started this execution")
        else:
            action = self.engine.executions.action(execution.action_ref)
            decision = authorize_execution(
                self.engine.authz,
                user,
                action_ref=execution.action_ref,
                schema=merge_parameter_schemas(RUNNER_TYPES[action.runner_type], action),
                parameters=execution.parameters,
                channel=turn.place.channel,
            )
        await self.engine.audit.record_check(
            user, decision, action_ref=execution.action_ref, place=turn.place, kind="authz.cancel"
        )
        if not decision.allowed:
            raise PermissionRefused(f"You may not cancel execution {execution.id}.")

    def _no_match_reply(self, turn: Turn, word: str) -> str:
        """The formats of the aliases the first word names (the arguments did not fit), else
        that the word is unknown."""
        visible = {a.ref for a in self.visible_aliases(turn.squall_user, turn.place.channel)}
        meant = [a for a in self.engine.aliases.aliases_for_word(turn.text) if a.ref in visible]
        if not meant:
            return f"I don't know {word!r}. Type help."
        lines = [_help_line(alias, fmt) for alias in meant for fmt in alias.formats]
        return "\n".join([f"That does not fit {word!r}. Usage:", *lines])

    def visible_aliases(self, user: SquallUser, channel: str) -> list[Alias]:
        return [
            alias
            for alias in self.engine.aliases.aliases()
            if alias.enabled
            and self.engine.authz.may_see(
                user, action_ref=alias.action_ref, alias_ref=alias.ref, channel=channel
            )
        ]


def _alias_context(user: SquallUser, alias: Alias, channel: str) -> dict[str, Any]:
    """The context ``immutable_parameters`` templates see (st2: aliasexecution.py)."""
    return {
        "action_alias_ref": alias.ref,
        "api_user": user.name,
        "user": user.name,
        "source_channel": channel,
    }


def _rerun_parameters(engine: Engine, execution: Execution) -> dict[str, Any]:
    """The caller-settable values of a past execution (immutable ones come back by default)."""
    action = engine.executions.action(execution.action_ref)
    return settable_parameters(action, execution.parameters)


def _age(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if hours else f"{minutes}m {secs}s"


def _help_line(alias: Alias, fmt: AliasFormat) -> str:
    return f"  {fmt.display}  —  {alias.description}".rstrip(" —")


def _format_help(commands: ChatCommands, user: SquallUser, channel: str, needle: str) -> str:
    lines = []
    for alias in commands.visible_aliases(user, channel):
        for fmt in alias.formats:
            line = _help_line(alias, fmt)
            if needle in line.lower() or needle in alias.ref.lower():
                lines.append(line)
    builtins = [
        f"  {b.usage}  —  {b.summary}"
        for b in BUILTINS.values()
        if needle in b.usage.lower() or needle in b.summary.lower()
    ]
    where = f' (prefix "{commands.prefix}" in channels)' if commands.prefix else ""
    head = [f"Commands you can run{where}:", *lines] if lines else ["No aliases you can run."]
    return "\n".join([*head, "Built-in commands:", *builtins])


# -- built-in commands ----------------------------------------------------------------------
@builtin("help", "help [FILTER]", "what you can run here, filtered by FILTER")
async def _help(cmd: ChatCommands, turn: Turn, words: list[str]) -> None:
    needle = " ".join(words).lower()
    text = _format_help(cmd, turn.squall_user, turn.place.channel, needle)
    await cmd.say(turn, text, private=PRIVATE)


@builtin("status", "status", "Squall's health: chat adapters, executions, deliveries")
async def _status(cmd: ChatCommands, turn: Turn, words: list[str]) -> None:
    health = cmd.health()
    adapters = health.get("adapters") or {}
    lines = [
        f"Squall is up {_age(time.monotonic() - cmd.started)}",
        "chat: " + (", ".join(f"{n} {s}" for n, s in sorted(adapters.items())) or "none"),
        f"executions running here: {cmd.engine.executions.running_count}",
        f"chat deliveries failed: {health.get('delivery_failures', 0)}",
        f"store: {cmd.engine.settings.store.backend}",
    ]
    await cmd.say(turn, "\n".join(lines))


@builtin("executions", "executions [N|all]", "your N latest executions (all: everyone's)")
async def _executions(cmd: ChatCommands, turn: Turn, words: list[str]) -> None:
    everyone = bool(words) and words[0] == "all"
    count = words[1:] if everyone else words
    limit = min(int(count[0]), MAX_LISTED) if count else 10
    user = turn.squall_user
    query = ExecutionQuery(user=None if everyone else user.name, limit=limit)
    found = [e for e in await cmd.engine.store.executions.list(query) if cmd.may_view(user, e)]
    apis = [cmd.engine.executions.to_api(e) for e in found]
    rows = [{**a, "action": a["action"]["ref"], "user": a["context"].get("user")} for a in apis]
    await cmd.say(turn, OutgoingMessage(code=table(rows, EXECUTION_COLUMNS)) if rows else "none")


@builtin("execution", "execution ID", "one execution: parameters (secrets masked) and result")
async def _execution(cmd: ChatCommands, turn: Turn, words: list[str]) -> None:
    execution = await cmd.execution_for(turn, words)
    summary = execution_summary(cmd.engine.executions.to_api(execution))
    await cmd.say(turn, OutgoingMessage(code=summary))


@builtin("cancel", "cancel ID", "cancel one of your executions (or one you may run)")
async def _cancel(cmd: ChatCommands, turn: Turn, words: list[str]) -> None:
    execution = await cmd.execution_for(turn, words)
    await cmd.may_stop(turn, execution)
    done = await cmd.engine.executions.cancel(execution.id, turn.squall_user.name)
    await cmd.say(turn, f"execution {done.id}: {done.status}")


@builtin("rerun", "rerun ID", "run an execution again with the same parameters")
async def _rerun(cmd: ChatCommands, turn: Turn, words: list[str]) -> None:
    execution = await cmd.execution_for(turn, words)
    alias_ref = execution.context.get("action_alias_ref")
    alias = cmd.engine.content.index.aliases.get(alias_ref) if isinstance(alias_ref, str) else None
    params = _rerun_parameters(cmd.engine, execution)
    await cmd.launcher.launch(turn, Launch(execution.action_ref, params, alias))


@builtin("run", "run REF [k=v ...]", "run an action directly, if your role allows it")
async def _run(cmd: ChatCommands, turn: Turn, words: list[str]) -> None:
    action = cmd.engine.executions.action(words[0])
    params = parse_params(parameter_schema(action), words[1:])
    await cmd.launcher.launch(turn, Launch(action.ref, params))


@builtin("approvals", "approvals", "approvals waiting for an answer you may give")
async def _approvals(cmd: ChatCommands, turn: Turn, words: list[str]) -> None:
    user = turn.squall_user
    waiting = [a for a in await cmd.engine.approvals.list_pending() if _may_answer(cmd, user, a)]
    lines = [f"  {a.id}  {a.title}  (asked by {a.requester})" for a in waiting]
    await cmd.say(
        turn, "\n".join(["Waiting for you:", *lines]) if lines else "Nothing waits for you."
    )


def _may_answer(cmd: ChatCommands, user: SquallUser, approval: Approval) -> bool:
    return cmd.engine.approvals.may_answer(approval, user)


async def _answer(cmd: ChatCommands, turn: Turn, words: list[str], approved: bool) -> None:
    if not words:
        raise ValueError("which approval? give its id")
    approval = await cmd.engine.approvals.get(words[0])
    response = yes_no_response(approval.schema, approved) if approval else {"approved": approved}
    await cmd.engine.approvals.respond(
        words[0], turn.squall_user, response, turn.place.to_context()
    )


@builtin("approve", "approve ID", "approve a request someone else made")
async def _approve(cmd: ChatCommands, turn: Turn, words: list[str]) -> None:
    await _answer(cmd, turn, words, approved=True)


@builtin("deny", "deny ID", "deny a request someone else made")
async def _deny(cmd: ChatCommands, turn: Turn, words: list[str]) -> None:
    await _answer(cmd, turn, words, approved=False)


@builtin("respond", "respond ID {JSON}", "answer an approval that asks for more than yes/no")
async def _respond(cmd: ChatCommands, turn: Turn, words: list[str]) -> None:
    if not words:
        raise ValueError("which approval? give its id, then the answer as JSON")
    # shlex split the JSON on spaces: take everything after the id from the raw text.
    raw = turn.text.split(maxsplit=2)[2] if len(turn.text.split(maxsplit=2)) > 2 else "{}"
    try:
        response = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"the answer must be JSON: {exc}") from None
    if not isinstance(response, dict):
        raise ValueError('the answer must be a JSON object, e.g. {"approved": true}')
    await cmd.engine.approvals.respond(
        words[0], turn.squall_user, response, turn.place.to_context()
    )


@builtin("whoami", "whoami", "who Squall thinks you are, and your roles")
async def _whoami(cmd: ChatCommands, turn: Turn, words: list[str]) -> None:
    user = turn.squall_user
    text = (
        f"You are {user.name} (chat identity {turn.event.identity.key}); "
        f"roles: {', '.join(user.roles) or 'none'}"
    )
    await cmd.say(turn, text, private=PRIVATE)


@builtin("actions", "actions", "the actions you may run with `run`")
async def _actions(cmd: ChatCommands, turn: Turn, words: list[str]) -> None:
    user, channel = turn.squall_user, turn.place.channel
    actions = [
        a.to_api()
        for a in sorted(cmd.engine.content.index.actions.values(), key=lambda a: a.ref)
        if cmd.engine.authz.may_see(user, action_ref=a.ref, alias_ref=None, channel=channel)
    ]
    shown = table(actions, ("ref", "runner_type", "description")) if actions else "none"
    await cmd.say(turn, OutgoingMessage(code=shown) if actions else shown, private=PRIVATE)


@builtin("quit", "quit", "stop Squall (console only)")
async def _quit(cmd: ChatCommands, turn: Turn, words: list[str]) -> None:
    if turn.event.identity.adapter != "console":
        await cmd.say(turn, "quit works on the console only", private=PRIVATE)
        return
    cmd.stop_requested.set()
    await cmd.say(turn, "stopping Squall")

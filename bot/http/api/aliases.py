"""``/api/v1/actionalias`` and ``/api/v1/aliasexecution``: aliases as chat clients call them.

An alias execution through the API is the chat path without a chat: the same matcher, the same
parameter extraction (immutable parameters, casts), the same permission check and, for an
alias with ``approval:``, the same approval gate (the execution is held ``pending``; approvers
decide in chat or with ``squall`` / the inquiry commands).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from aiohttp import web

from bot.app import Engine
from bot.http.api.base import (
    RouteTable,
    acting_user,
    caller,
    engine_of,
    json_body,
    ok,
)
from bot.http.api.content import add_content_routes
from bot.http.api.errors import ApiError
from bot.http.api.executions import execution_doc
from bot.http.api.permissions import check_execute
from core.aliases import AliasMatch, AmbiguousAliasMatch, NoAliasMatch
from core.aliases.api import alias_to_api
from core.aliases.params import alias_parameters
from core.approvals.gate import GatedRequest
from core.approvals.service import split_approvers
from core.auth.service import Caller
from core.kv.lookup import kv_context
from core.models import Alias, Execution
from core.runners.types import RUNNER_TYPES

routes = RouteTable("aliases")
COMMAND = {
    "type": "object",
    "required": ["command"],
    "properties": {
        "command": {"type": "string"},
        "user": {"type": ["string", "null"]},
        "source_channel": {"type": ["string", "null"]},
    },
}
MAX_COMMAND = 4096


def alias_doc(alias: Alias) -> dict[str, Any]:
    return {
        **alias_to_api(alias),
        "id": alias.ref,
        "uid": f"action_alias:{alias.pack}:{alias.name}",
    }


add_content_routes(
    routes,
    "actionalias",
    lambda engine: engine.content.index.aliases,
    alias_doc,
    one="action alias",
    many="action aliases",
    filters=("pack", "name"),
)


def _command(body: Mapping[str, Any]) -> str:
    text = body.get("command")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "command: required, the text to match")
    if len(text) > MAX_COMMAND:
        raise ApiError(400, f"command: at most {MAX_COMMAND} characters")
    return text.strip()


def _match(engine: Engine, text: str) -> list[AliasMatch]:
    try:
        return engine.aliases.match(text)
    except AmbiguousAliasMatch as many:
        shown = "; ".join(c.display or c.representation for c in many.candidates)
        raise ApiError(400, f'Command "{text}" matched more than 1 pattern: {shown}') from None
    except NoAliasMatch:
        raise ApiError(400, f'Command "{text}" matched no patterns') from None


@routes.add("POST", "/api/v1/actionalias/match", "The alias a command matches", body=COMMAND,
            response={"type": "object", "required": ["actionalias"], "properties": {
                "actionalias": {"type": "object"}, "display": {"type": "string"},
                "representation": {"type": "string"}}})  # fmt: skip
async def match_alias(request: web.Request) -> web.Response:
    engine = engine_of(request)
    match = _match(engine, _command(await json_body(request)))[0]
    return ok({
        "actionalias": alias_doc(match.alias),
        "display": match.display,
        "representation": match.representation,
    })  # fmt: skip


@routes.add("POST", "/api/v1/aliasexecution/match_and_execute", "Match a command and run it",
            body=COMMAND, status=201, response={"type": "object", "required": ["results"],
            "properties": {"results": {"type": "array"}}})  # fmt: skip
async def match_and_execute(request: web.Request) -> web.Response:
    engine = engine_of(request)
    who = caller(request)
    body = await json_body(request)
    text = _command(body)
    user = acting_user(request, body.get("user"), "execute aliases on behalf of")
    channel = str(body.get("source_channel") or "api")
    results = []
    for match in _match(engine, text):
        execution = await _execute(engine, who, user, match, channel)
        results.append(_result(engine, match, execution))
    return ok({"results": results}, status=201)


@routes.add("POST", "/api/v1/aliasexecution", "Run an alias by name and format", body={
    "type": "object", "required": ["name", "command"], "properties": {
        "name": {"type": "string"}, "format": {"type": ["string", "null"]},
        "command": {"type": "string"}, "user": {"type": ["string", "null"]},
        "source_channel": {"type": ["string", "null"]}}}, status=201,
    response={"type": "object"})  # fmt: skip
async def alias_execution(request: web.Request) -> web.Response:
    engine = engine_of(request)
    who = caller(request)
    body = await json_body(request)
    text, name = _command(body), body.get("name")
    alias = engine.content.index.aliases.get(str(name)) if isinstance(name, str) else None
    if alias is None:
        found = [a for a in engine.content.index.aliases.values() if a.name == name]
        alias = found[0] if len(found) == 1 else None
    if alias is None or not alias.enabled:
        raise ApiError(404, f'Action alias "{name}" not found or disabled')
    matches = [m for m in _match(engine, text) if m.alias.ref == alias.ref]
    if not matches:
        raise ApiError(400, f'Command "{text}" does not match alias "{alias.ref}"')
    user = acting_user(request, body.get("user"), "execute aliases on behalf of")
    channel = str(body.get("source_channel") or "api")
    execution = await _execute(engine, who, user, matches[0], channel)
    return ok(_result(engine, matches[0], execution), status=201)


async def _execute(
    engine: Engine, who: Caller, user: str, match: AliasMatch, channel: str
) -> Execution:
    alias = match.alias
    action = engine.content.index.get_action(alias.action_ref)
    context = {"action_alias_ref": alias.ref, "api_user": who.user.name, "user": user,
               "source_channel": channel}  # fmt: skip
    kv = await kv_context(engine.kv, user)
    params = alias_parameters(
        match, action, kv=kv, context=context, runner=RUNNER_TYPES.get(action.runner_type)
    )
    fixed = {k: params[k] for k in alias.immutable_parameters if k in params}
    acting = who if user == who.user.name else Caller(engine.auth.user(user), who.method)

    async def admit(resolved: Mapping[str, Any], holding_secrets: Sequence[str]) -> None:
        await check_execute(
            engine, acting, action, resolved, alias_ref=alias.ref, fixed=fixed,
            holding_secrets=holding_secrets,
        )  # fmt: skip

    if alias.approval is not None:
        users, roles = split_approvers(alias.approval.approvers)
        gated = GatedRequest(
            action_ref=action.ref, parameters=params, context=context,
            title=f"Run {action.ref} for {user}?", description=f"asked through alias {alias.ref}",
            approvers=users, approver_roles=roles,
            ttl=timedelta(seconds=alias.approval.ttl_seconds),
            requester_may_approve=alias.approval.requester_may_approve,
        )  # fmt: skip
        held, _ = await engine.gate.request(
            gated, requester=acting.user, place={"channel": channel}, admit=admit
        )
        return held
    return await engine.executions.request(
        action.ref, params, context=context, render_live=False, admit=admit
    )


def _result(engine: Engine, match: AliasMatch, execution: Execution) -> dict[str, Any]:
    return {
        "execution": execution_doc(engine, execution),
        "actionalias": alias_doc(match.alias),
        "message": f'Action "{match.alias.action_ref}" requested as execution {execution.id}',
    }

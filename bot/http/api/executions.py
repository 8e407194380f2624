"""``/api/v1/executions``: list, get, run, cancel, re-run, pause/resume, children, output.

Values sent through the API are data: they are not rendered as Jinja templates (st2 renders
them); defaults and pack-authored templates are. Every state-changing call is checked with the
chat's permission rules for the execution's action (bot.http.api.permissions).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiohttp import web

from bot.app import Engine
from bot.http.api.base import (
    LIMIT,
    OFFSET,
    Param,
    RouteTable,
    acting_user,
    by_id,
    caller,
    engine_of,
    flag,
    int_query,
    json_body,
    ok,
    page,
    paging,
    projected,
    query_list,
    query_timestamp,
)
from bot.http.api.errors import ApiError
from bot.http.api.listing import ListingCache
from bot.http.api.permissions import check_execute
from core.auth.service import Caller
from core.executions.api import settable_parameters
from core.models import Execution, ExecutionStatus
from core.store import ExecutionQuery

routes = RouteTable("executions")
LISTING = web.AppKey("api_listing", ListingCache)
S = ExecutionStatus
ID = Param("id", where="path", required=True)
EXECUTION = {
    "type": "object",
    "required": ["id", "status", "action"],
    "properties": {
        "id": {"type": "string"},
        "status": {"type": "string", "enum": [str(s) for s in S]},
        "action": {"type": "object"},
        "parameters": {"type": "object"},
        "context": {"type": "object"},
        "start_timestamp": {"type": "string"},
    },
}
EXECUTION_LIST = {"type": "array", "items": {"type": "object"}}
REQUEST = {
    "type": "object",
    "required": ["action"],
    "properties": {
        "action": {"type": "string"},
        "parameters": {"type": "object"},
        "user": {"type": ["string", "null"]},
        "context": {"type": "object"},
    },
}
LIST_PARAMS = (
    LIMIT,
    OFFSET,
    Param("action"),
    Param("status"),
    Param("parent"),
    Param("user"),
    Param("timestamp_gt"),
    Param("timestamp_lt"),
    Param("sort_asc", description="oldest first (by start timestamp)"),
    Param("sort_desc", description="newest first (the default)"),
    Param("include_attributes"),
    Param("exclude_attributes"),
)


def execution_doc(engine: Engine, execution: Execution) -> dict[str, Any]:
    doc = engine.executions.to_api(execution)
    doc["liveaction"] = {"id": execution.id}
    return doc


async def load(engine: Engine, execution_id: str) -> Execution:
    return await by_id(execution_id, engine.store.executions.get)


def _query(request: web.Request) -> ExecutionQuery:
    q = request.query
    limit, offset = paging(request, default_limit=100)
    statuses = []
    for text in query_list(request, "status"):
        try:
            statuses.append(S(text))
        except ValueError:
            raise ApiError(400, f"status: unknown status {text[:40]!r}") from None
    parent = q.get("parent")
    return ExecutionQuery(
        statuses=tuple(statuses),
        action_ref=q.get("action") or None,
        user=q.get("user") or None,
        parent=None if parent in (None, "", "null") else parent,
        top_level=parent == "null",
        started_after=query_timestamp(request, "timestamp_gt"),
        started_before=query_timestamp(request, "timestamp_lt"),
        limit=limit,
        offset=offset,
        oldest_first=oldest_first(request),
    )


def oldest_first(request: web.Request) -> bool:
    """st2's order: ``sort_desc`` or ``timestamp_lt`` → newest first; else ``sort_asc`` or
    ``timestamp_gt`` → oldest first (the page right after the bound); else newest first."""
    if flag(request, "sort_desc") or request.query.get("timestamp_lt"):
        return False
    return flag(request, "sort_asc") or bool(request.query.get("timestamp_gt"))


@routes.add("GET", "/api/v1/executions", "List executions, newest first",
            params=LIST_PARAMS, response=EXECUTION_LIST)  # fmt: skip
async def list_executions(request: web.Request) -> web.Response:
    engine = engine_of(request)
    query = _query(request)
    found = await engine.store.executions.list(query)
    cache = request.app[LISTING]
    total = await cache.count(
        query, engine.stream.last_seq, lambda: engine.store.executions.count(query)
    )
    docs = [cache.doc(e, lambda e: execution_doc(engine, e)) for e in found]
    return page(projected(request, docs), total, query.limit)


@routes.add("POST", "/api/v1/executions", "Run an action", body=REQUEST, status=201,
            response=EXECUTION)  # fmt: skip
async def create_execution(request: web.Request) -> web.Response:
    engine = engine_of(request)
    who = caller(request)
    body = await json_body(request)
    ref, parameters = body.get("action"), body.get("parameters") or {}
    if not isinstance(ref, str) or not ref:
        raise ApiError(400, "action: required, the ref of the action to run")
    if not isinstance(parameters, dict):
        raise ApiError(400, "parameters: expected an object")
    user = acting_user(request, body.get("user"), "run actions as user")
    execution = await run_action(engine, who, ref, parameters, context={"user": user})
    return ok(execution_doc(engine, execution), status=201)


async def run_action(
    engine: Engine,
    who: Caller,
    ref: str,
    parameters: Mapping[str, Any],
    *,
    context: Mapping[str, Any],
    verb: str = "execute",
) -> Execution:
    action = engine.executions.action(ref)

    async def admit(resolved: Mapping[str, Any], holding_secrets: Sequence[str]) -> None:
        await check_execute(
            engine, who, action, resolved, verb=verb, holding_secrets=holding_secrets
        )

    return await engine.executions.request(
        action.ref,
        parameters,
        # api_request: the trace records that an API call (by this user) started it.
        context={**context, "api_user": who.user.name, "api_request": who.user.name},
        render_live=False,
        admit=admit,
    )


@routes.add("GET", "/api/v1/executions/{id}", "One execution", params=(ID,), response=EXECUTION)
async def get_execution(request: web.Request) -> web.Response:
    engine = engine_of(request)
    execution = await load(engine, request.match_info["id"])
    return ok(projected(request, [execution_doc(engine, execution)])[0])


@routes.add("DELETE", "/api/v1/executions/{id}", "Cancel an execution", params=(ID,),
            response=EXECUTION)  # fmt: skip
async def cancel_execution(request: web.Request) -> web.Response:
    engine = engine_of(request)
    who = caller(request)
    execution = await load(engine, request.match_info["id"])
    if execution.is_completed:
        raise ApiError(
            400,
            f"Action cannot be canceled. State = {execution.status}.",
        )
    await check_on(engine, who, execution, "stop")
    done = await engine.executions.cancel(execution.id, user=who.user.name)
    return ok(execution_doc(engine, done))


async def check_on(engine: Engine, who: Caller, execution: Execution, verb: str) -> None:
    """403 unless ``who`` may ``verb`` (stop, execute) ``execution``: its action's permission."""
    action = engine.content.index.actions.get(execution.action_ref)
    if action is None:
        raise ApiError(404, f"action {execution.action_ref} of execution {execution.id} is gone")
    await check_execute(engine, who, action, execution.parameters, verb=verb)


@routes.add("PUT", "/api/v1/executions/{id}", "Pause or resume a workflow: status pausing or "
            "resuming", params=(ID,), body={"type": "object", "required": ["status"],
            "properties": {"status": {"type": "string", "enum": ["pausing", "resuming"]}}},
            response=EXECUTION)  # fmt: skip
async def update_execution(request: web.Request) -> web.Response:
    engine = engine_of(request)
    who = caller(request)
    execution = await load(engine, request.match_info["id"])
    wanted = (await json_body(request)).get("status")
    if wanted not in ("pausing", "resuming"):
        raise ApiError(400, 'status: expected "pausing" or "resuming"')
    await check_on(engine, who, execution, "execute")
    if wanted == "pausing":
        done = await engine.executions.pause(execution.id)
    else:
        done = await engine.executions.resume(execution.id)
    return ok(execution_doc(engine, done))


@routes.add("POST", "/api/v1/executions/{id}/re_run", "Run an execution again", params=(ID,),
            body={"type": "object", "properties": {"parameters": {"type": "object"},
            "tasks": {"type": "array", "items": {"type": "string"}},
            "reset": {"type": "array", "items": {"type": "string"}},
            "delay": {"type": "integer"}}}, status=201, response=EXECUTION)  # fmt: skip
async def rerun_execution(request: web.Request) -> web.Response:
    engine = engine_of(request)
    who = caller(request)
    original = await load(engine, request.match_info["id"])
    body = await json_body(request)
    parameters, tasks = body.get("parameters") or {}, body.get("tasks") or []
    if not isinstance(parameters, dict) or not isinstance(tasks, list):
        raise ApiError(400, "parameters: expected an object; tasks: expected a list")
    if tasks:
        # Squall reruns a workflow's tasks in place, in the same execution (see README).
        await check_on(engine, who, original, "execute")
        reset = {str(t) for t in body.get("reset") or []}
        no_reset = [str(t) for t in tasks if str(t) not in reset]
        done = await engine.workflows.rerun(
            original.id, tasks=[str(t) for t in tasks], no_reset=no_reset
        )
        return ok(execution_doc(engine, done), status=201)
    merged = {**_user_parameters(engine, original), **parameters}
    context = {"user": who.user.name, "re-run": {"ref": original.id}}
    execution = await run_action(engine, who, original.action_ref, merged, context=context)
    return ok(execution_doc(engine, execution), status=201)


def _user_parameters(engine: Engine, execution: Execution) -> dict[str, Any]:
    action = engine.content.index.actions.get(execution.action_ref)
    if action is None:
        raise ApiError(404, f"action {execution.action_ref} of execution {execution.id} is gone")
    return settable_parameters(action, execution.parameters)


@routes.add("GET", "/api/v1/executions/{id}/children", "An execution's children (a "
            "workflow's tasks)", params=(ID, Param("depth", {"type": "integer"})),
            response=EXECUTION_LIST)  # fmt: skip
async def execution_children(request: web.Request) -> web.Response:
    engine = engine_of(request)
    execution = await load(engine, request.match_info["id"])
    depth = int_query(request, "depth", -1)
    found: list[Execution] = []
    await _descend(engine, execution.id, depth, found)
    docs = [execution_doc(engine, e) for e in found]
    return ok(projected(request, docs))


async def _descend(engine: Engine, parent: str, depth: int, found: list[Execution]) -> None:
    if depth == 0 or len(found) > 10_000:
        return
    children = await engine.store.executions.list(ExecutionQuery(parent=parent, limit=10_000))
    for child in sorted(children, key=lambda c: c.start_timestamp):
        found.append(child)
        await _descend(engine, child.id, depth - 1, found)


@routes.add("GET", "/api/v1/executions/{id}/output", "An execution's stdout and stderr as "
            "text", params=(ID, Param("output_type", {"type": "string", "enum": ["stdout",
            "stderr", "all"]})), response={"type": "string"})  # fmt: skip
async def execution_output(request: web.Request) -> web.Response:
    engine = engine_of(request)
    execution = await load(engine, request.match_info["id"])
    doc = execution_doc(engine, execution)
    result = doc.get("result") if isinstance(doc.get("result"), dict) else {}
    wanted = request.query.get("output_type") or "all"
    parts = [
        str(result.get(name) or "")
        for name in ("stdout", "stderr")
        if wanted in ("all", name) and isinstance(result, dict)
    ]
    return web.Response(text="".join(parts), content_type="text/plain")


@routes.add("GET", "/api/v1/executions/{id}/result", "An execution's result", params=(ID,),
            response={"type": "object"})  # fmt: skip
async def execution_result(request: web.Request) -> web.Response:
    engine = engine_of(request)
    execution = await load(engine, request.match_info["id"])
    doc = execution_doc(engine, execution)
    return ok({"id": execution.id, "action": {"ref": execution.action_ref},
               "result": doc.get("result") or {}})  # fmt: skip

"""Traces (`st2 trace list|get`): what an event or a request caused, in st2's trace shape."""

from __future__ import annotations

from aiohttp import web

from bot.http.api.base import LIMIT, OFFSET, Param, RouteTable, engine_of, flag, ok, page, paging
from bot.http.api.errors import ApiError, not_found
from core.models.trace import TraceContext
from core.observe.reader import read_trace
from core.store import Store

routes = RouteTable("traces")
OBJECTS = {"type": "array", "items": {"type": "object"}}
# st2client's `trace list` sends these; Squall finds a trace from any one component.
COMPONENTS = ("execution", "trigger_instance")


@routes.add("GET", "/api/v1/traces", "List traces (`st2 trace list`), newest first unless "
            "sort_asc",
            params=(LIMIT, OFFSET, Param("trace_tag"), Param("execution"),
                    Param("trigger_instance"), Param("sort_asc"), Param("sort_desc")),
            response=OBJECTS)  # fmt: skip
async def list_traces(request: web.Request) -> web.Response:
    store = engine_of(request).store
    limit, offset = paging(request, default_limit=50)
    if "rule" in request.query:
        raise ApiError(400, "rule: filtering traces by rule is not supported; use trace_tag")
    for name in COMPONENTS:
        if request.query.get(name):
            trace_id = await _trace_of(store, name, request.query[name])
            found = await read_trace(store, trace_id=trace_id) if trace_id else None
            docs = [] if found is None else [found.to_st2()]
            return page(docs, len(docs), limit)
    # st2: sort_desc wins, then sort_asc; newest first by default.
    oldest_first = flag(request, "sort_asc") and not flag(request, "sort_desc")
    summaries = await store.traces.recent(
        offset + limit, request.query.get("trace_tag") or None, oldest_first=oldest_first
    )
    docs = []
    for summary in summaries[offset:]:
        trace = await read_trace(store, trace_id=summary.id)
        if trace is not None:
            docs.append(trace.to_st2())
    return page(docs, offset + len(docs), limit)


@routes.add("GET", "/api/v1/traces/{id}", "One trace (`st2 trace get`)",
            params=(Param("id", where="path", required=True),))  # fmt: skip
async def get_trace(request: web.Request) -> web.Response:
    trace_id = request.match_info["id"]
    trace = await read_trace(engine_of(request).store, trace_id=trace_id)
    if trace is None:
        raise not_found("trace", trace_id)
    return ok(trace.to_st2())


async def _trace_of(store: Store, kind: str, object_id: str) -> str | None:
    """The trace an execution or trigger instance belongs to."""
    if kind == "execution":
        execution = await store.executions.get(object_id)
        trace = None if execution is None else TraceContext.of_execution(execution.context)
    else:
        instance = await store.trigger_instances.get(object_id)
        trace = None if instance is None else instance.trace
    return None if trace is None else trace.id


__all__ = ["routes"]

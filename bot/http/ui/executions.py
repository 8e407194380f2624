"""Executions: a filtered, paged list and a detail page, both refreshed live by the console's
script from the event stream; Cancel / Re-run / Pause / Resume through the API's own checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from bot.app import Engine
from bot.http.api.base import engine_of
from bot.http.api.errors import ApiError
from bot.http.api.executions import check_on, load, run_action
from bot.http.api.permissions import may_execute
from bot.http.ui.render import render
from bot.http.ui.session import SESSION
from core.auth.service import Caller
from core.executions.api import settable_parameters
from core.models import Execution, ExecutionStatus
from core.store import ExecutionQuery

S = ExecutionStatus
PAGE_SIZE = 50
MAX_TREE_NODES = 2000
STATUSES = [str(s) for s in S]


@dataclass
class Task:
    doc: dict[str, Any]
    children: list[Task] = field(default_factory=list)


def _since(text: str) -> datetime | None:
    """``<input type=datetime-local>``'s value, read as UTC (the times the pages show)."""
    if not text:
        return None
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise ApiError(400, f"since: expected a date and time, got {text[:40]!r}") from None
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def _page_number(text: str) -> int:
    return int(text) if text.isdigit() and 0 < int(text) < 10**6 else 1


async def list_page(request: web.Request) -> web.Response:
    engine = engine_of(request)
    q = request.query
    filters = {
        name: q.get(name, "").strip()[:200] for name in ("action", "status", "user", "since")
    }
    status = filters["status"]
    if status and status not in STATUSES:
        raise ApiError(400, f"status: unknown status {status[:40]!r}")
    number = _page_number(q.get("page", "1"))
    query = ExecutionQuery(
        statuses=(S(status),) if status else (),
        action_ref=filters["action"] or None,
        user=filters["user"] or None,
        started_after=_since(filters["since"]),
        top_level=True,
        limit=PAGE_SIZE,
        offset=(number - 1) * PAGE_SIZE,
    )
    found = await engine.store.executions.list(query)
    total = await engine.store.executions.count(query)
    rows = [engine.executions.to_api(e) for e in found]
    template = "executions_rows.html" if q.get("partial") else "executions.html"
    return render(
        request, template, rows=rows, filters=filters, statuses=STATUSES, page=number,
        pages=max(1, -(-total // PAGE_SIZE)), total=total,
    )  # fmt: skip


def allowed_buttons(engine: Engine, who: Caller, execution: Execution) -> list[str]:
    """The buttons ``who`` may use on ``execution`` (what the POSTs will check again)."""
    action = engine.content.index.actions.get(execution.action_ref)
    if action is None or not may_execute(engine, who, action, execution.parameters):
        return []
    buttons = []
    if not execution.is_completed:
        buttons.append("cancel")
    if action.runner_type == "orquesta" and execution.status in (S.RUNNING, S.PENDING):
        buttons.append("pause")
    if execution.status in (S.PAUSED, S.PAUSING):
        buttons.append("resume")
    if execution.is_completed:
        buttons.append("rerun")
    return buttons


async def _tasks(engine: Engine, parent: str, budget: list[int]) -> list[Task]:
    children = await engine.store.executions.list(ExecutionQuery(parent=parent, limit=1000))
    tasks = []
    for child in sorted(children, key=lambda c: c.start_timestamp):
        budget[0] -= 1
        if budget[0] < 0:
            break
        doc = engine.executions.to_api(child)
        tasks.append(Task(doc, await _tasks(engine, child.id, budget)))
    return tasks


async def detail_page(request: web.Request) -> web.Response:
    engine = engine_of(request)
    execution = await load(engine, request.match_info["id"])
    doc = engine.executions.to_api(execution)
    tasks = await _tasks(engine, execution.id, [MAX_TREE_NODES])
    who = request[SESSION].caller
    result = doc.get("result")
    output = ""
    if isinstance(result, dict):
        output = "".join(str(result.get(k) or "") for k in ("stdout", "stderr"))
    return render(
        request,
        "execution_live.html" if request.query.get("partial") else "execution.html",
        execution=execution, doc=doc, tasks=tasks, output=output,
        buttons=allowed_buttons(engine, who, execution),
        history=[(str(c.status), c.timestamp.isoformat()) for c in execution.log],
    )  # fmt: skip


async def act(request: web.Request) -> web.StreamResponse:
    """POST /ui/executions/{id}/{verb}: the same permission checks as the API's routes."""
    engine = engine_of(request)
    who = request[SESSION].caller
    execution = await load(engine, request.match_info["id"])
    verb = request.match_info["verb"]
    target = execution.id
    if verb == "cancel":
        if execution.is_completed:
            raise ApiError(400, f"Action cannot be canceled. State = {execution.status}.")
        await check_on(engine, who, execution, "stop")
        await engine.executions.cancel(execution.id, user=who.user.name)
    elif verb in ("pause", "resume"):
        await check_on(engine, who, execution, "execute")
        if verb == "pause":
            await engine.executions.pause(execution.id)
        else:
            await engine.executions.resume(execution.id)
    elif verb == "rerun":
        action = engine.content.index.actions.get(execution.action_ref)
        if action is None:
            raise ApiError(404, f"action {execution.action_ref} is gone")
        again = await run_action(
            engine, who, execution.action_ref, settable_parameters(action, execution.parameters),
            context={"user": who.user.name, "re-run": {"ref": execution.id}},
        )  # fmt: skip
        target = again.id
    else:
        raise ApiError(404, f"no such action on an execution: {verb[:40]}")
    raise web.HTTPSeeOther(f"/ui/executions/{target}")

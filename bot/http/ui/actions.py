"""Packs and actions, and a run form generated from an action's parameter schema."""

from __future__ import annotations

from collections import defaultdict

from aiohttp import web

from bot.http.api.base import engine_of
from bot.http.api.errors import ApiError
from bot.http.api.executions import run_action
from bot.http.api.permissions import may_execute
from bot.http.ui.forms import FormError, action_fields, parse
from bot.http.ui.render import render
from bot.http.ui.session import SESSION
from core.models import Action
from core.params import merge_parameter_schemas
from core.runners.types import RUNNER_TYPES


def _action(request: web.Request) -> Action:
    ref = request.match_info["ref"]
    found = engine_of(request).content.index.actions.get(ref)
    if found is None:
        raise ApiError(404, f'Resource with a reference or id "{ref[:200]}" not found')
    return found


async def list_page(request: web.Request) -> web.Response:
    wanted = request.query.get("q", "").strip().lower()[:200]
    packs: dict[str, list[Action]] = defaultdict(list)
    for ref, action in sorted(engine_of(request).content.index.actions.items()):
        if not wanted or wanted in ref.lower() or wanted in (action.description or "").lower():
            packs[action.pack].append(action)
    return render(request, "actions.html", packs=sorted(packs.items()), q=wanted)


def _form_page(
    request: web.Request, action: Action, error: str = "", status: int = 200
) -> web.Response:
    engine = engine_of(request)
    schema = merge_parameter_schemas(RUNNER_TYPES[action.runner_type], action)
    fields = action_fields(schema)
    defaults = {f.name: f.default for f in fields if f.default is not None}
    # Shown when the user may run it at all (its defaults); the POST checks the real values.
    runnable = may_execute(engine, request[SESSION].caller, action, defaults)
    return render(
        request, "action.html", status=status, action=action, fields=fields,
        runnable=runnable, error=error,
    )  # fmt: skip


async def action_page(request: web.Request) -> web.Response:
    return _form_page(request, _action(request))


async def run(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    action = _action(request)
    schema = merge_parameter_schemas(RUNNER_TYPES[action.runner_type], action)
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    try:
        parameters = parse(action_fields(schema), form)
    except FormError as bad:
        return _form_page(request, action, str(bad), status=400)
    who = request[SESSION].caller
    execution = await run_action(
        engine, who, action.ref, parameters, context={"user": who.user.name}
    )
    raise web.HTTPSeeOther(f"/ui/executions/{execution.id}")

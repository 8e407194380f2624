"""Puts the console's pages, static files and middlewares on the listener's application."""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from bot.http.api import stream
from bot.http.api.base import Handler
from bot.http.api.errors import ApiError
from bot.http.ui import actions, approvals, audit, executions, info, signin
from bot.http.ui.render import problem
from bot.http.ui.session import PREFIX, console_sessions
from core.executions.service import ExecutionError
from core.packs.index import UnknownContentError
from core.params import ParameterError

logger = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"


@web.middleware
async def console_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A refused or failed console request is a page saying why (the API's own messages)."""
    if not request.path.startswith(PREFIX):
        return await handler(request)
    try:
        return await handler(request)
    except ApiError as error:
        return problem(request, error.status, error.message)
    except UnknownContentError as unknown:
        return problem(request, 404, str(unknown.args[0]) if unknown.args else "not found")
    except (ParameterError, ExecutionError, ValueError) as bad:
        return problem(request, 400, str(bad) or type(bad).__name__)


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/ui/executions")


def add_ui(app: web.Application) -> None:
    """The console at /ui/ (needs the API: add_api first, which sets the engine)."""
    app.middlewares.append(console_errors)
    app.middlewares.append(console_sessions)
    router = app.router
    router.add_get("/ui", home)
    router.add_get("/ui/", home)
    router.add_get("/ui/login", signin.login_page)
    router.add_post("/ui/login", signin.login)
    router.add_post("/ui/logout", signin.logout)
    # The API's event stream, for a signed-in browser (EventSource sends the cookie).
    router.add_get("/ui/stream", stream.stream)
    router.add_get("/ui/executions", executions.list_page)
    router.add_get("/ui/executions/{id}", executions.detail_page)
    router.add_post("/ui/executions/{id}/{verb}", executions.act)
    router.add_get("/ui/approvals", approvals.list_page)
    router.add_post("/ui/approvals/{id}", approvals.respond)
    router.add_get("/ui/actions", actions.list_page)
    router.add_get("/ui/actions/{ref}", actions.action_page)
    router.add_post("/ui/actions/{ref}/run", actions.run)
    router.add_get("/ui/audit", audit.trail_page)
    router.add_get("/ui/audit/{id}", audit.instance_page)
    router.add_get("/ui/datastore", info.datastore_page)
    router.add_get("/ui/health", info.health_page)
    router.add_static("/ui/static/", STATIC, append_version=False)

"""Puts the API, auth and stream routes on the listener's aiohttp application."""

from __future__ import annotations

from aiohttp import web

from bot.app import Engine
from bot.http.api import (
    aliases,
    apikeys,
    auth,
    catalog,
    events,
    executions,
    inquiries,
    keys,
    packs,
    rules,
    stream,
    traces,
)
from bot.http.api.base import ENGINE, Route, RouteTable, engine_of, ok
from bot.http.api.errors import api_errors
from bot.http.api.listing import ListingCache
from bot.http.api.openapi import document
from core.version import installed_version

OPENAPI_PATH = "/api/v1/openapi.json"
# st2 clients compare versions loosely; this is the st2 API Squall follows.
ST2_API_VERSION = "3.9.0"
root = RouteTable("root")


def squall_version() -> str:
    return installed_version() or "0"  # "0": running from a checkout never installed


@root.add("GET", "/api/v1/", "API version", response={
    "type": "object", "required": ["version"], "properties": {
        "version": {"type": "string"}, "docs_url": {"type": "string"}}})  # fmt: skip
async def index(request: web.Request) -> web.Response:
    return ok({
        "version": ST2_API_VERSION,
        "squall_version": squall_version(),
        "docs_url": OPENAPI_PATH,
    })  # fmt: skip


@root.add("GET", OPENAPI_PATH, "This document", public=True)
async def openapi(request: web.Request) -> web.Response:
    return ok(document(all_routes(request), squall_version()))


TABLES: tuple[RouteTable, ...] = (
    root,
    auth.routes,
    catalog.routes,
    packs.routes,
    executions.routes,
    aliases.routes,
    rules.routes,
    events.routes,
    keys.routes,
    inquiries.routes,
    apikeys.routes,
    stream.routes,
    traces.routes,
)


def all_routes(request: web.Request | None = None) -> list[Route]:
    return [route for table in TABLES for route in table.routes]


def add_api(app: web.Application, engine: Engine) -> None:
    """Register every API route and the middlewares (errors outermost, then auth)."""
    app[ENGINE] = engine
    app[executions.LISTING] = ListingCache()
    stream.add_follower(app, engine)
    public = frozenset(r.path for r in all_routes() if r.public)
    app.middlewares.append(api_errors)
    app.middlewares.append(auth.auth_middleware(public))
    for table in TABLES:
        table.register(app)


__all__ = ["add_api", "all_routes", "engine_of"]

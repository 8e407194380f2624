"""The aiohttp application: health endpoints and webhooks; the REST API in later issues."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiohttp import web

from adapters.base import ChatAdapter
from bot.app import Engine
from bot.webhooks import WebhookRoutes
from core.webhooks.handler import Dispatcher

ENGINE = web.AppKey("engine", Engine)
# Chat adapter states and delivery failures (``ChatRuntime.health``), when chat runs.
ChatHealth = Callable[[], dict[str, object]]
CHAT_HEALTH: web.AppKey[ChatHealth] = web.AppKey("chat_health")


async def healthz(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    return web.json_response(
        {
            "status": "ok",
            "store": engine.store.backend,
            # Lets `squall doctor` tell whether this process and the CLI share a store.
            "store_id": engine.settings.store.identity,
            "packs": len(engine.content.index.packs),
            "actions": len(engine.content.index.actions),
            **(request.app[CHAT_HEALTH]() if CHAT_HEALTH in request.app else {}),
        }
    )


async def readyz(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    await engine.store.schema_version()  # proves the store answers
    return web.json_response({"status": "ready"})


def build_web_app(
    engine: Engine,
    dispatcher: Dispatcher | None = None,
    *,
    chat_health: ChatHealth | None = None,
    adapters: Sequence[ChatAdapter] = (),
) -> web.Application:
    """``dispatcher`` defaults to the engine's trigger dispatcher (``Engine.triggers``)."""
    settings = engine.settings.webhooks
    # Webhook bodies are read with their own cap; this one only guards the other routes.
    app = web.Application(client_max_size=max(1024 * 1024, settings.max_body_bytes))
    app[ENGINE] = engine
    if chat_health is not None:
        app[CHAT_HEALTH] = chat_health
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    routes = WebhookRoutes(
        settings, engine.triggers.rules, dispatcher or engine.triggers, engine.store.api_keys
    )
    routes.register(app)
    for adapter in adapters:  # e.g. Slack's Events API endpoint in HTTP mode
        for method, path, handler in adapter.http_routes():
            app.router.add_route(method, path, handler)
    return app

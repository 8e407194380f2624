"""The aiohttp application: health endpoints and webhooks; the REST API in later issues."""

from __future__ import annotations

from aiohttp import web

from bot.app import Engine
from bot.webhooks import WebhookRoutes
from core.webhooks.handler import Dispatcher

ENGINE = web.AppKey("engine", Engine)


async def healthz(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    return web.json_response(
        {
            "status": "ok",
            "store": engine.store.backend,
            "packs": len(engine.content.index.packs),
            "actions": len(engine.content.index.actions),
        }
    )


async def readyz(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    await engine.store.schema_version()  # proves the store answers
    return web.json_response({"status": "ready"})


def build_web_app(engine: Engine, dispatcher: Dispatcher | None = None) -> web.Application:
    """``dispatcher`` defaults to the engine's trigger dispatcher (``Engine.triggers``)."""
    settings = engine.settings.webhooks
    # Webhook bodies are read with their own cap; this one only guards the other routes.
    app = web.Application(client_max_size=max(1024 * 1024, settings.max_body_bytes))
    app[ENGINE] = engine
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    routes = WebhookRoutes(settings, engine.triggers.rules, dispatcher or engine.triggers)
    routes.register(app)
    return app

"""The aiohttp application: health, webhooks, adapter routes and StackStorm's REST API
(bot.http.api)."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from adapters.base import ChatAdapter
from bot.app import Engine
from bot.http.health import (
    CHAT_HEALTH,
    ENGINE,
    RELOADS,
    SENSORS,
    ChatHealth,
    healthz,
    readyz,
)
from bot.http.metrics import metrics_sampler, serve_metrics
from bot.http.webhook_refusals import RefusalLog
from bot.http.webhooks import WebhookRoutes
from bot.reload import ContentReloads
from core.sensors.container import SensorContainer
from core.webhooks.handler import Dispatcher


def build_web_app(
    engine: Engine,
    dispatcher: Dispatcher | None = None,
    *,
    chat_health: ChatHealth | None = None,
    adapters: Sequence[ChatAdapter] = (),
    sensors: SensorContainer | None = None,
    reloads: ContentReloads | None = None,
) -> web.Application:
    """``dispatcher`` defaults to the engine's trigger dispatcher (``Engine.triggers``)."""
    settings = engine.settings.webhooks
    # Webhook bodies are read with their own cap; this one only guards the other routes.
    app = web.Application(client_max_size=max(1024 * 1024, settings.max_body_bytes))
    app[ENGINE] = engine
    if chat_health is not None:
        app[CHAT_HEALTH] = chat_health
    if sensors is not None:
        app[SENSORS] = sensors
    if reloads is not None:
        app[RELOADS] = reloads
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    if engine.settings.metrics.enabled:
        app.router.add_get("/metrics", serve_metrics)
        app.cleanup_ctx.append(metrics_sampler)
    routes = WebhookRoutes(
        settings,
        engine.triggers.rules,
        dispatcher or engine.triggers,
        engine.store.api_keys,
        RefusalLog(engine.audit),
    )
    routes.register(app)
    if engine.settings.api.enabled:
        from bot.http.api.app import add_api  # the API pulls in every resource module

        add_api(app, engine)
        from bot.http.ui.app import add_ui  # the web console reads the API's engine and stream

        add_ui(app)
    for adapter in adapters:  # e.g. Slack's Events API endpoint in HTTP mode
        for method, path, handler in adapter.http_routes():
            app.router.add_route(method, path, handler)
    return app

"""The aiohttp application: health endpoints now; webhooks and the REST API in later issues."""

from __future__ import annotations

from aiohttp import web

from bot.app import Engine

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


def build_web_app(engine: Engine) -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app[ENGINE] = engine
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app

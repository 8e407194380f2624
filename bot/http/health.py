"""Health endpoints: ``/healthz`` (what runs: store, packs, chat adapters) and ``/readyz``
(the store answers; sensors that were given up are listed)."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from bot.app import Engine
from core.sensors.container import SensorContainer

ENGINE = web.AppKey("engine", Engine)
# Chat adapter states and delivery failures (``ChatRuntime.health``), when chat runs.
ChatHealth = Callable[[], dict[str, object]]
CHAT_HEALTH: web.AppKey[ChatHealth] = web.AppKey("chat_health")
SENSORS = web.AppKey("sensors", SensorContainer)


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
    # Which process of the cluster holds which lease (timers, chat:<adapter>, …).
    cluster = await engine.cluster.describe()
    body: dict[str, object] = {"status": "ready", "cluster": cluster}
    if SENSORS in request.app:
        # Reported, not fatal: one broken sensor must not take the webhooks out of service.
        statuses = request.app[SENSORS].statuses()
        body["sensors"] = {
            "running": sum(1 for s in statuses if s.state == "running"),
            "failed": [{"ref": s.ref, "last_error": s.last_error} for s in statuses
                       if s.state == "failed"],
        }  # fmt: skip
    return web.json_response(body)

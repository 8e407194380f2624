"""Health endpoints: ``/healthz`` is liveness (the process answers; what runs: store, packs,
chat adapters) and stays 200; ``/readyz`` is readiness: 503 while the store cannot write, a
chat adapter is not connected or the timers are down (sensors that were given up are listed)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from aiohttp import web

from adapters.base import AdapterState
from bot.app import Engine
from bot.reload import ContentReloads
from core.sensors.container import SensorContainer

ENGINE = web.AppKey("engine", Engine)
# Chat adapter states and delivery failures (``ChatRuntime.health``), when chat runs.
ChatHealth = Callable[[], dict[str, object]]
CHAT_HEALTH: web.AppKey[ChatHealth] = web.AppKey("chat_health")
SENSORS = web.AppKey("sensors", SensorContainer)
# Content reloads (SIGHUP, `squall pack reload`, packs.watch), when this is `squall serve`.
RELOADS = web.AppKey("reloads", ContentReloads)


async def healthz(request: web.Request) -> web.Response:
    engine = request.app[ENGINE]
    return web.json_response(
        {
            "status": "ok",
            "store": engine.store.backend,
            # Lets `squall doctor` tell whether this process and the CLI share a store.
            "store_id": engine.settings.store.identity,
            "pid": os.getpid(),  # `squall pack reload` signals it
            "packs": len(engine.content.index.packs),
            "actions": len(engine.content.index.actions),
            "stream_clients": engine.stream.subscriber_count,
            **(request.app[CHAT_HEALTH]() if CHAT_HEALTH in request.app else {}),
            **({"content": request.app[RELOADS].status()} if RELOADS in request.app else {}),
        }
    )


# /readyz must answer quickly even when the store is stuck behind another process's lock.
PROBE_TIMEOUT_SECONDS = 2.0


async def readyz(request: web.Request) -> web.Response:
    """503 with the problems while this process cannot do its job: the store cannot write, a
    chat adapter it should have connected is not connected, or nobody runs the timers. (A
    sensor that was given up is reported, not fatal.)"""
    engine = request.app[ENGINE]
    problems = [
        *await _store_problems(engine),
        *_chat_problems(request),
    ]
    cluster: dict[str, object] = {}
    if not problems:  # describe() reads the store, which just proved to answer
        cluster = await engine.cluster.describe()
        problems += _timer_problems(engine, cluster)
    body: dict[str, object] = {"status": "not ready" if problems else "ready"}
    if problems:
        body["problems"] = problems
    else:
        # Which process of the cluster holds which lease (timers, chat:<adapter>, …).
        body["cluster"] = cluster
    if SENSORS in request.app:
        statuses = request.app[SENSORS].statuses()
        body["sensors"] = {
            "running": sum(1 for s in statuses if s.state == "running"),
            "failed": [{"ref": s.ref, "last_error": s.last_error} for s in statuses
                       if s.state == "failed"],
        }  # fmt: skip
    return web.json_response(body, status=503 if problems else 200)


async def _store_problems(engine: Engine) -> list[str]:
    try:
        async with asyncio.timeout(PROBE_TIMEOUT_SECONDS):
            await engine.store.schema_version()
            await engine.store.probe_write()
    except TimeoutError:
        return [f"store: no write within {PROBE_TIMEOUT_SECONDS}s (locked by another process?)"]
    except Exception as exc:  # StoreError and whatever a driver raises
        return [f"store: cannot write: {exc}"]
    return []


def _chat_problems(request: web.Request) -> list[str]:
    if CHAT_HEALTH not in request.app:
        return []
    states = request.app[CHAT_HEALTH]().get("adapters")
    if not isinstance(states, dict):
        return []
    return [
        f"chat: adapter {name} is {state}"
        for name, state in sorted(states.items())
        if state not in (str(AdapterState.CONNECTED), "standby")
    ]


def _timer_problems(engine: Engine, cluster: dict[str, object]) -> list[str]:
    leader = engine.timers
    if leader is None:  # timers are not this process's job
        return []
    if leader.timers is not None:
        return [] if leader.timers.running else ["timers: the scheduler of this process stopped"]
    leases = cluster.get("leases")
    live = isinstance(leases, list) and any(
        isinstance(lease, dict) and lease.get("name") == "timers" and lease.get("live")
        for lease in leases
    )
    return [] if live else ["timers: no process holds the timers lease"]

"""The datastore (keys by scope, secret values masked) and health (what /healthz and /readyz
report, read from the same handlers)."""

from __future__ import annotations

import json

from aiohttp import web

from bot.doctor import Report, run_checks
from bot.http.api.base import engine_of
from bot.http.api.keys import key_to_api
from bot.http.health import healthz, readyz
from bot.http.ui.render import render
from bot.http.ui.session import SESSION
from core.kv.names import SYSTEM, USER
from core.models import MASK


async def datastore_page(request: web.Request) -> web.Response:
    engine = engine_of(request)
    user = request[SESSION].caller.user.name
    scopes = []
    # What the API lets anyone read: system keys and the caller's own user-scoped keys.
    for scope in (SYSTEM, USER):
        pairs = await engine.kv.list(None, scope=scope, user=user if scope == USER else None)
        docs = [key_to_api(engine, pair, False) for pair in pairs]
        for doc in docs:
            if doc.get("secret"):
                doc["value"] = MASK
        scopes.append((scope, docs))
    return render(request, "datastore.html", scopes=scopes)


async def health_page(request: web.Request) -> web.Response:
    health = json.loads((await healthz(request)).text or "{}")
    ready = await readyz(request)
    # What `squall doctor` says, from inside serve (so without asking itself over HTTP).
    doctor = await run_checks(engine_of(request).settings, Report(), serve=False)
    return render(
        request, "health.html", health=health, ready=json.loads(ready.text or "{}"),
        ready_status=ready.status, doctor=doctor,
    )  # fmt: skip

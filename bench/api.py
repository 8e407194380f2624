"""The REST API on SQLite: ``GET /api/v1/executions?limit=50`` over 100,000 stored executions,
and ``POST /api/v1/executions`` of ``core.noop`` until its ``succeeded`` arrives on the stream.

The server (engine + aiohttp app) and the client run in this process, one request at a time,
so each latency includes the client's own HTTP and JSON work. Run alone with
``python -m bench.api`` (prints JSON).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.stats import ms, percentile
from bot.app import open_engine
from bot.http.app import build_web_app
from bot.settings import load_settings
from core.models import Execution, ExecutionStatus
from core.models.apikey import ApiKey
from core.models.execution import utcnow
from core.store import Store
from core.webhooks.apikeys import generate_api_key, key_id_of_hash

STORED = 100_000
LIST_REQUESTS = 300
RUNS = 200
BATCH = 64


def write_site(workdir: Path) -> Path:
    config = workdir / "bench-api.yaml"
    config.write_text(
        "store:\n  url: sqlite:///bench-api.db\n"
        "http:\n  enabled: true\n  port: 1\n"  # the app is served on a free port below
        "chat:\n  console:\n    enabled: false\n"
        "executions:\n  max_concurrency: 32\n"
        "users:\n  bench:\n    roles: [admin]\n"
    )
    return config


async def fill(store: Store, count: int) -> None:
    """``count`` completed core.local executions, oldest first, ten users."""
    for start in range(0, count, BATCH):
        batch = []
        for i in range(start, min(count, start + BATCH)):
            execution = Execution.request(
                "core.local", "local-shell-cmd", {"cmd": f"echo {i}", "timeout": 60},
                {"user": f"user{i % 10}"},
            )  # fmt: skip
            done = execution.transition(ExecutionStatus.RUNNING).transition(
                ExecutionStatus.SUCCEEDED, result={"stdout": str(i), "return_code": 0}
            )
            batch.append(done)
        await asyncio.gather(*(store.executions.insert(e) for e in batch))


async def api_key(store: Store) -> str:
    plaintext, stored = generate_api_key()
    key = ApiKey(key_id_of_hash(stored), stored, utcnow(), name="bench", user="bench")
    await store.api_keys.insert(key)
    return plaintext


def row(name: str, seconds: list[float], **extra: Any) -> dict[str, Any]:
    return {
        "benchmark": name,
        "requests": len(seconds),
        "ms_p50": ms(percentile(seconds, 0.50)),
        "ms_p95": ms(percentile(seconds, 0.95)),
        **extra,
    }


async def time_list(session: aiohttp.ClientSession, url: str) -> list[float]:
    times = []
    for _ in range(LIST_REQUESTS):
        start = time.perf_counter()
        async with session.get(url) as resp:
            body = await resp.read()
            assert resp.status == 200, body[:200]
        times.append(time.perf_counter() - start)
    assert len(json.loads(body)) == 50
    return times


async def time_runs(session: aiohttp.ClientSession, base: str) -> list[float]:
    """POST core.noop, then wait for its ``succeeded`` on an open stream."""
    stream = await session.get(
        f"{base}/stream/v1/stream?events=st2.execution__update",
        timeout=aiohttp.ClientTimeout(total=None, sock_read=30),
    )
    lines = stream.content
    times = []
    try:
        for _ in range(RUNS):
            start = time.perf_counter()
            async with session.post(f"{base}/api/v1/executions", json={"action": "core.noop"}) as r:
                execution_id = (await r.json())["id"]
            while True:
                line = await lines.readline()
                if line.startswith(b"data: ") and (
                    b'"succeeded"' in line and execution_id.encode() in line
                ):
                    doc = json.loads(line[6:])
                    if doc["id"] == execution_id and doc["status"] == "succeeded":
                        break
            times.append(time.perf_counter() - start)
    finally:
        stream.close()
    return times


async def run(workdir: Path) -> list[dict[str, Any]]:
    settings = load_settings(write_site(workdir))
    rows = []
    async with open_engine(settings) as engine:
        started = time.perf_counter()
        await fill(engine.store, STORED)
        fill_seconds = round(time.perf_counter() - started, 1)
        key = await api_key(engine.store)
        runner = web.AppRunner(build_web_app(engine), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        try:
            base = f"http://127.0.0.1:{runner.addresses[0][1]}"
            headers = {"St2-Api-Key": key}
            async with aiohttp.ClientSession(headers=headers) as session:
                for query, label in (
                    ("limit=50", "GET /api/v1/executions?limit=50"),
                    ("limit=50&parent=null", "GET …?limit=50&parent=null (st2 execution list)"),
                    ("limit=50&user=user3", "GET …?limit=50&user=user3"),
                ):
                    times = await time_list(session, f"{base}/api/v1/executions?{query}")
                    rows.append(row(label, times, stored=STORED, fill_s=fill_seconds))
                rows.append(
                    row("POST core.noop → succeeded on /stream", await time_runs(session, base))
                )
        finally:
            await runner.cleanup()
    return rows


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(run(Path(tmp))), indent=2))

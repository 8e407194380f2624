"""Executions per second and per-execution latency through the whole engine, on SQLite.

Each client loop requests an execution and waits for it to complete; ``concurrency`` loops run
at once. Latency is request → completed as the caller sees it. The baseline of ``core.local``
is measured in the same run: ``bash -c true`` spawned straight through asyncio (pipes for
stdout/stderr, a new session, as core.runners.process does), as many at once, no engine.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bot.app import open_engine
from bot.settings import load_settings
from core.executions.service import ExecutionService

CASES: list[tuple[str, str, dict[str, Any], int]] = [
    # (label, action, parameters, executions per concurrency level)
    ("core.noop", "core.noop", {}, 400),
    ("core.local cmd=true", "core.local", {"cmd": "true"}, 200),
    ("python-script (core.uuid)", "core.uuid", {}, 100),
]
CONCURRENCY = (1, 32)


async def _client(
    service: ExecutionService, ref: str, params: dict[str, Any], n: int
) -> list[float]:
    latencies = []
    for _ in range(n):
        start = time.perf_counter()
        execution = await service.request(ref, params)
        done = await service.wait(execution.id, timeout=120)
        if str(done.status) != "succeeded":
            raise RuntimeError(f"{ref} ended {done.status}: {done.result}")
        latencies.append(time.perf_counter() - start)
    return latencies


async def _measure(
    service: ExecutionService, ref: str, params: dict[str, Any], total: int, conc: int
) -> dict[str, Any]:
    await _client(service, ref, params, 3)  # warm-up (fork server, caches)
    per_client = max(1, total // conc)
    start = time.perf_counter()
    results = await asyncio.gather(
        *(_client(service, ref, params, per_client) for _ in range(conc))
    )
    wall = time.perf_counter() - start
    lat = sorted(x for r in results for x in r)
    return {
        "executions": len(lat),
        "concurrency": conc,
        "executions_per_sec": round(len(lat) / wall, 1),
        "latency_ms_mean": round(statistics.fmean(lat) * 1000, 2),
        "latency_ms_p50": round(lat[len(lat) // 2] * 1000, 2),
        "latency_ms_p95": round(lat[int(len(lat) * 0.95) - 1] * 1000, 2),
    }


RAW_SPAWNS = 400


async def raw_spawn_rate(concurrency: int, total: int = RAW_SPAWNS) -> dict[str, Any]:
    """``bash -c true`` through ``asyncio.create_subprocess_exec`` alone: what spawning costs."""

    async def one() -> None:
        proc = await asyncio.create_subprocess_exec(
            "bash", "-c", "true", stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        await proc.communicate()

    async def client(n: int) -> None:
        for _ in range(n):
            await one()

    await client(3)
    start = time.perf_counter()
    await asyncio.gather(*(client(total // concurrency) for _ in range(concurrency)))
    wall = time.perf_counter() - start
    done = (total // concurrency) * concurrency
    return {
        "benchmark": "raw spawn bash -c true (baseline)",
        "executions": done,
        "concurrency": concurrency,
        "executions_per_sec": round(done / wall, 1),
    }


async def run(workdir: Path) -> list[dict[str, Any]]:
    config = workdir / "bench-config.yaml"
    config.write_text(
        "store:\n  url: sqlite:///bench-executions.db\nhttp:\n  enabled: false\n"
        "executions:\n  max_concurrency: 32\n"
    )
    rows = []
    async with open_engine(load_settings(config)) as engine:
        for label, ref, params, total in CASES:
            for conc in CONCURRENCY:
                if ref == "core.local":
                    rows.append(await raw_spawn_rate(conc))
                row = await _measure(engine.executions, ref, params, total, conc)
                rows.append({"benchmark": f"execute {label}", **row})
                if ref == "core.local":
                    rows[-1]["vs_raw_spawn"] = round(
                        row["executions_per_sec"] / rows[-2]["executions_per_sec"], 2
                    )
    return rows


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        json.dump(asyncio.run(run(Path(tmp))), sys.stdout, indent=2)

"""Executions per second and per-execution latency through the whole engine, on SQLite.

Each client loop requests an execution and waits for it to complete; ``concurrency`` loops run
at once. Latency is request → completed as the caller sees it; ``cpu_us_per_execution`` is the
CPU time of this process (every thread) per execution, which other load on the machine barely
changes. The baseline of ``core.local`` is measured in the same run: ``bash -c true`` spawned
straight through asyncio (pipes for stdout/stderr, a new session, as core.runners.process
does), as many at once, no engine. The two alternate for ``ROUNDS`` rounds and the best of each
is kept, so a burst of load elsewhere does not decide the ratio. At 32 at once each round also
measures the spawn ceiling, what this machine allows at all: ``posix_spawn`` of ``bash -c true``
in a plain loop, 32 in flight, exits seen on pidfds, no event loop, no pipes.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import select
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench.goals import SPAWN_CEILING
from bot.app import open_engine
from bot.heap import freeze_startup_heap
from bot.settings import load_settings
from core.executions.service import ExecutionService

CASES: list[tuple[str, str, dict[str, Any], int]] = [
    # (label, action, parameters, executions per concurrency level)
    ("core.noop", "core.noop", {}, 400),
    ("core.local cmd=true", "core.local", {"cmd": "true"}, 200),
    ("python-script (core.uuid)", "core.uuid", {}, 100),
]
CONCURRENCY = (1, 32)
ROUNDS = 3  # core.local and its raw baseline, alternating


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
    cpu = time.process_time()
    start = time.perf_counter()
    results = await asyncio.gather(
        *(_client(service, ref, params, per_client) for _ in range(conc))
    )
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    lat = sorted(x for r in results for x in r)
    return {
        "executions": len(lat),
        "concurrency": conc,
        "executions_per_sec": round(len(lat) / wall, 1),
        "cpu_us_per_execution": round(cpu / len(lat) * 1e6),
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
    cpu = time.process_time()
    start = time.perf_counter()
    await asyncio.gather(*(client(total // concurrency) for _ in range(concurrency)))
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    done = (total // concurrency) * concurrency
    return {
        "benchmark": "raw spawn bash -c true (baseline)",
        "executions": done,
        "concurrency": concurrency,
        "executions_per_sec": round(done / wall, 1),
        "cpu_us_per_execution": round(cpu / done * 1e6),
    }


def spawn_ceiling(in_flight: int = 32, total: int = RAW_SPAWNS * 2) -> dict[str, Any]:
    """``bash -c true`` by ``posix_spawn`` in a plain loop: the machine's own limit. Each child's
    exit is seen on its pidfd (``poll``), so a slow child never holds up the others."""
    bash = next(
        (f"{d}/bash" for d in os.get_exec_path() if os.access(f"{d}/bash", os.X_OK)), "/bin/bash"
    )
    devnull = os.open(os.devnull, os.O_RDWR)
    quiet = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
    poller = select.poll()
    running: dict[int, int] = {}  # pidfd -> pid
    started = 0
    try:
        start = time.perf_counter()
        while started < total or running:
            while started < total and len(running) < in_flight:
                pid = os.posix_spawn(bash, ["bash", "-c", "true"], os.environ,
                                     file_actions=quiet, setsid=True)  # fmt: skip
                pidfd = os.pidfd_open(pid)
                running[pidfd] = pid
                poller.register(pidfd, select.POLLIN)
                started += 1
            for pidfd, _ in poller.poll():
                os.waitpid(running.pop(pidfd), 0)
                poller.unregister(pidfd)
                os.close(pidfd)
        wall = time.perf_counter() - start
    finally:
        os.close(devnull)
    return {
        "benchmark": SPAWN_CEILING,
        "executions": total,
        "concurrency": in_flight,
        "executions_per_sec": round(total / wall, 1),
    }


async def run(workdir: Path) -> list[dict[str, Any]]:
    config = workdir / "bench-config.yaml"
    config.write_text(
        "store:\n  url: sqlite:///bench-executions.db\nhttp:\n  enabled: false\n"
        "executions:\n  max_concurrency: 32\n"
    )
    rows: list[dict[str, Any]] = []
    threshold = gc.get_threshold()
    try:
        async with open_engine(load_settings(config)) as engine:
            freeze_startup_heap()  # the collector as squall serve runs it (bot/heap.py)
            rows += await _cases(engine.executions)
    finally:  # the suites after this one run with the interpreter's own settings
        gc.unfreeze()
        gc.set_threshold(*threshold)
    return rows


async def _cases(service: ExecutionService) -> list[dict[str, Any]]:
    rows = []
    for label, ref, params, total in CASES:
        for conc in CONCURRENCY:
            if ref == "core.local":
                rows += await _local_against_raw(service, label, params, total, conc)
            else:
                row = await _measure(service, ref, params, total, conc)
                rows.append({"benchmark": f"execute {label}", **row})
    return rows


async def _local_against_raw(
    service: ExecutionService, label: str, params: dict[str, Any], total: int, conc: int
) -> list[dict[str, Any]]:
    """The best of ``ROUNDS`` alternating rounds of raw spawns and ``core.local`` (and, at
    32 at once, the spawn ceiling)."""
    ceilings, raws, locals_ = [], [], []
    for _ in range(ROUNDS):
        if conc == 32:
            ceilings.append(spawn_ceiling(conc))
        raws.append(await raw_spawn_rate(conc))
        locals_.append(await _measure(service, "core.local", params, total, conc))
    raw = max(raws, key=lambda r: r["executions_per_sec"])
    local = max(locals_, key=lambda r: r["executions_per_sec"])
    ratio = round(local["executions_per_sec"] / raw["executions_per_sec"], 2)
    best_ceiling = [max(ceilings, key=lambda r: r["executions_per_sec"])] if ceilings else []
    return [
        *({**row, "rounds": ROUNDS} for row in best_ceiling),
        {**raw, "rounds": ROUNDS},
        {"benchmark": f"execute {label}", **local, "rounds": ROUNDS, "vs_raw_spawn": ratio},
    ]


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        json.dump(asyncio.run(run(Path(tmp))), sys.stdout, indent=2)

"""Per-execution latency of the python-script runner: fork server vs. a fresh interpreter.

A trivial action (``return (True, {...})``) run sequentially, so the numbers are the runner's
own overhead: StackStorm pays 0.2-0.3 s here for interpreter startup and imports. The first
fork-server run, which also starts the server, is reported apart as ``first_run_ms``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.stats import ms, percentile
from core.models import Action
from core.runners.base import RunContext
from core.runners.python import PythonScriptRunner

RUNS = 50
CONCURRENT = 20
TRIVIAL_ACTION = """\
from st2common.runners.base_action import Action


class Trivial(Action):
    def run(self, n):
        return (True, {"n": n})
"""


def _pack(workdir: Path) -> Action:
    actions = workdir / "benchpack" / "actions"
    actions.mkdir(parents=True, exist_ok=True)
    (actions / "trivial.py").write_text(TRIVIAL_ACTION)
    return Action(
        pack="benchpack",
        name="trivial",
        runner_type="python-script",
        pack_path=actions.parent,
        entry_point="trivial.py",
    )


async def _once(runner: PythonScriptRunner, action: Action, n: int) -> float:
    ctx = RunContext(
        execution_id=f"bench-{n}",
        action=action,
        runner_parameters={"timeout": 60},
        action_parameters={"n": n},
    )
    start = time.perf_counter()
    result = await runner.run(ctx)
    elapsed = time.perf_counter() - start
    if result.result.get("result") != {"n": n}:
        raise RuntimeError(f"unexpected result {result.status}: {result.result}")
    return elapsed


def _stats(latencies: list[float]) -> dict[str, Any]:
    return {
        "runs": len(latencies),
        "latency_ms_mean": ms(statistics.fmean(latencies)),
        "latency_ms_p50": ms(percentile(latencies, 0.50)),
        "latency_ms_p95": ms(percentile(latencies, 0.95)),
    }


async def _measure(label: str, use_fork_server: bool, action: Action) -> list[dict[str, Any]]:
    runner = PythonScriptRunner(use_fork_server=use_fork_server)
    try:
        first = await _once(runner, action, -1)
        sequential = [await _once(runner, action, n) for n in range(RUNS)]
        start = time.perf_counter()
        await asyncio.gather(*(_once(runner, action, n) for n in range(CONCURRENT)))
        wall = time.perf_counter() - start
    finally:
        await runner.close()
    return [
        {"path": label, "first_run_ms": round(first * 1000, 1), **_stats(sequential)},
        {
            "path": f"{label}, {CONCURRENT} at once",
            "runs": CONCURRENT,
            "executions_per_sec": round(CONCURRENT / wall, 1),
        },
    ]


async def run(workdir: Path) -> list[dict[str, Any]]:
    action = _pack(workdir)
    return [
        *await _measure("fork server", True, action),
        *await _measure("fresh interpreter (fallback)", False, action),
    ]


async def _main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        rows = await run(Path(tmp))
    print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(_main()))

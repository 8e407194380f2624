"""What observability costs per event: one webhook-like event through the real engine (rule →
``core.noop`` → completed, SQLite) with and without the store timing proxy, in the same run.

The proxy is the part of /metrics on the hot path that scales with work (one clock pair and one
histogram observation per store call); the counters are a handful of increments per event.
Reported: store calls per event (from the histogram itself), CPU µs per event with and without
the proxy (process time, so a busy machine inflates it less than wall time), and the cost of one
proxied call measured alone.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import bot.app
from bot.app import open_engine
from bot.settings import load_settings
from core.models import Execution
from core.models.trigger_instance import execution_id_for
from core.observe.metrics import REGISTRY
from core.observe.store_timing import timed

RULE_REF = "benchobserve.noop"
EVENTS = 400
ROUNDS = 3
RULE = """name: noop
pack: benchobserve
enabled: true
trigger: {type: core.st2.webhook, parameters: {url: observe}}
action: {ref: core.noop}
"""


def _site(workdir: Path) -> Path:
    rules = workdir / "packs" / "benchobserve" / "rules"
    rules.mkdir(parents=True)
    (rules.parent / "pack.yaml").write_text(
        "ref: benchobserve\nname: benchobserve\ndescription: bench\nversion: 0.1.0\nauthor: bench\n"
    )
    (rules / "noop.yaml").write_text(RULE)
    config = workdir / "squall.yaml"
    config.write_text(
        "store: {url: 'sqlite:///var/squall.db'}\n"
        f"packs: {{paths: ['{workdir / 'packs'}']}}\n"
        "http: {enabled: false}\nlog: {level: WARNING}\n"
    )
    return config


def _store_calls() -> float:
    return sum(
        sample.value
        for family in REGISTRY.collect()
        if family.name == "squall_store_operation_seconds"
        for sample in family.samples
        if sample.name.endswith("_count")
    )


async def _events(config: Path) -> tuple[float, float]:
    """CPU µs per event and store calls per event for EVENTS events, one at a time."""
    async with open_engine(load_settings(config)) as engine:
        done: dict[str, asyncio.Event] = {}

        async def completed(execution: Execution) -> None:
            done.setdefault(execution.id, asyncio.Event()).set()

        engine.executions.add_completion_listener(completed)
        calls_before = _store_calls()
        cpu = time.process_time()
        for n in range(EVENTS):
            instance = await engine.triggers.dispatch(
                "core.st2.webhook", {"body": {"n": n}}, trigger_parameters={"url": "observe"}
            )
            assert instance is not None
            finished = done.setdefault(execution_id_for(instance.id, RULE_REF), asyncio.Event())
            await asyncio.wait_for(finished.wait(), timeout=30)
        used = time.process_time() - cpu
        calls = _store_calls() - calls_before
    return used / EVENTS * 1e6, calls / EVENTS


async def _proxied_call_us() -> float:
    class Repo:
        async def get(self, key: str) -> str:
            return key

    class Store:
        backend = "bench"
        executions = Repo()

    plain, wrapped = Store.executions, timed(Store()).executions  # type: ignore[arg-type]
    rounds = 20_000
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(rounds):
            await wrapped.get("x")
        mid = time.perf_counter()
        for _ in range(rounds):
            await plain.get("x")
        end = time.perf_counter()
        best = min(best, ((mid - start) - (end - mid)) / rounds * 1e6)
    return best


async def run(workdir: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for label, wrap in (("with store timing", timed), ("without", lambda store: store)):
        original = bot.app.timed
        bot.app.timed = wrap  # type: ignore[assignment]
        try:
            best, calls = float("inf"), 0.0
            for round_ in range(ROUNDS):
                config = _site(workdir / f"{label.replace(' ', '-')}-{round_}")
                cpu_us, per_event = await _events(config)
                best, calls = min(best, cpu_us), per_event or calls
        finally:
            bot.app.timed = original
        rows.append({"case": f"webhook-like event → noop ({label})", "cpu_us":
                     round(best, 1), "store_calls_per_event": round(calls, 1)})  # fmt: skip
    rows.append({"case": "one proxied store call (overhead)",
                 "cpu_us": round(await _proxied_call_us(), 2)})  # fmt: skip
    return rows


if __name__ == "__main__":
    import json
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(run(Path(tmp))), indent=2))
    sys.exit(0)

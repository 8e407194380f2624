"""Workflows: Squall's conductor and engine against Orquesta 1.2.0 in the same run.

Shapes: a sequential chain of 100 and 1,000 tasks, one with-items task over 1,000 and 5,000
items, and a fan-out/fan-in of 100 branches. Measured four ways, tasks (or items) per second:

- ``squall conductor``: the pure conductor, every task marked running then succeeded.
- ``orquesta conductor``: the same rehearsal on PyPI's orquesta in its Python 3.8 venv
  (``make oracle``); rows say "not measured" without it.
- ``squall end to end``: ``squall serve``'s engine on SQLite, each task a real ``core.noop``
  child execution, state saved after every step; also the CPU milliseconds per task the
  process spent meanwhile (all its threads), steadier than rates on a shared machine. The
  cyclic collector runs as ``squall serve`` runs it (startup heap frozen, bot/heap.py).
- ``orquesta persisted``: orquesta reloading its serialized state before each event and saving
  it after (into SQLite), as StackStorm's workflow engine does — it has no engine of its own
  to run real tasks, so this is its fair counterpart to end to end.

Orquesta gets ``ORQUESTA_BUDGET`` seconds per case; past that the row reports the tasks done
in that time, so its rate is an upper bound and the ratio a lower bound.
Run alone: ``python -m bench.workflows`` (prints JSON).
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from bot.app import open_engine
from bot.heap import freeze_startup_heap
from bot.settings import load_settings
from core.workflows.conductor import Conductor
from core.workflows.graph import WorkflowGraph
from core.workflows.spec import parse_workflow

ROOT = Path(__file__).resolve().parents[1]
ORACLE = ROOT / ".venv-oracle" / "bin" / "python"
HARNESS = Path(__file__).resolve().parent / "orquesta_timing.py"
ORQUESTA_BUDGET = 60.0


def chain(n: int) -> dict[str, Any]:
    tasks: dict[str, Any] = {}
    for i in range(n):
        task: dict[str, Any] = {"action": "core.noop"}
        if i + 1 < n:
            task["next"] = [{"when": "<% succeeded() %>", "do": f"t{i + 1}"}]
        tasks[f"t{i}"] = task
    return {"version": 1.0, "tasks": tasks}


def with_items(_n: int) -> dict[str, Any]:
    each = {"with": {"items": "<% ctx(items) %>"}, "action": "core.noop"}
    return {"version": 1.0, "input": ["items"], "tasks": {"each": each}}


def with_items_limited(_n: int, concurrency: int = 16) -> dict[str, Any]:
    each = {"with": {"items": "<% ctx(items) %>", "concurrency": concurrency},
            "action": "core.noop"}  # fmt: skip
    return {"version": 1.0, "input": ["items"], "tasks": {"each": each}}


def fan(n: int) -> dict[str, Any]:
    tasks: dict[str, Any] = {"start": {"action": "core.noop",
                                       "next": [{"do": [f"b{i}" for i in range(n)]}]}}  # fmt: skip
    for i in range(n):
        tasks[f"b{i}"] = {"action": "core.noop", "next": [{"do": "join"}]}
    tasks["join"] = {"join": "all", "action": "core.noop"}
    return {"version": 1.0, "tasks": tasks}


# (label, workflow, inputs, tasks it runs, persisted orquesta too)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], int, bool]] = [
    ("chain 100", chain(100), {}, 100, True),
    ("chain 1000", chain(1000), {}, 1000, True),
    ("with-items 1000", with_items(1000), {"items": list(range(1000))}, 1000, True),
    ("with-items 5000", with_items(5000), {"items": list(range(5000))}, 5000, False),
    (
        "with-items 3000, 16 at a time",
        with_items_limited(3000),
        {"items": list(range(3000))},
        3000,
        False,
    ),
    ("fan-out/in 100", fan(100), {}, 102, True),
    ("fan-out/in 1000", fan(1000), {}, 1002, False),
]


def rehearse(workflow: dict[str, Any], inputs: dict[str, Any]) -> int:
    """Squall's conductor alone: mark each next task running, then succeeded."""
    spec, errors = parse_workflow(workflow)
    assert spec is not None and not errors, errors
    conductor = Conductor.start(WorkflowGraph(spec), inputs)
    conductor.request_status("running")
    done = 0
    while next_tasks := conductor.next_tasks():
        for task in next_tasks:
            for action in task.actions:
                conductor.update_task(task.id, task.route, "running", item_id=action.item_id)
        for task in next_tasks:
            for action in task.actions:
                item = action.item_id
                conductor.update_task(task.id, task.route, "succeeded", None, item_id=item)
                done += 1
    assert conductor.status == "succeeded", conductor.status
    return done


def orquesta(cases: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    if not ORACLE.is_file():
        return None
    found = subprocess.run(
        [str(ORACLE), str(HARNESS)], input=json.dumps({"cases": cases}), capture_output=True,
        text=True, check=True, timeout=ORQUESTA_BUDGET * len(cases) + 120,
    )  # fmt: skip
    results: list[dict[str, Any]] = json.loads(found.stdout)
    return results


async def end_to_end(workdir: Path, label: str, workflow: dict[str, Any],
                     inputs: dict[str, Any]) -> tuple[float, float]:  # fmt: skip
    """Squall's engine: a workflow action in a pack, run by a serving engine on SQLite; the
    seconds from request to completion, and the CPU seconds of this process (all its
    threads: the SQLite writer's too) meanwhile."""
    pack = workdir / label.replace(" ", "_").replace("/", "_") / "benchflows"
    (pack / "actions" / "workflows").mkdir(parents=True)
    (pack / "pack.yaml").write_text(
        "ref: benchflows\nname: benchflows\nversion: 0.1.0\ndescription: bench\nauthor: bench\n"
    )
    (pack / "actions" / "wf.yaml").write_text(
        "name: wf\nrunner_type: orquesta\nentry_point: workflows/wf.yaml\n"
        "parameters: {items: {type: array}}\n"
    )
    (pack / "actions" / "workflows" / "wf.yaml").write_text(yaml.safe_dump(workflow))
    config = pack.parent / "squall.yaml"
    config.write_text(
        "store: {url: 'sqlite:///bench.db'}\n"
        f"packs: {{paths: ['{pack.parent}']}}\n"
        "http: {enabled: false}\nchat: {console: {enabled: false}}\n"
        "executions: {max_concurrency: 32, python_fork_server: false}\n"
    )
    threshold = gc.get_threshold()
    try:
        async with open_engine(load_settings(config)) as engine:
            freeze_startup_heap()  # the collector as squall serve runs it (bot/heap.py)
            start, cpu = time.perf_counter(), time.process_time()
            requested = await engine.executions.request("benchflows.wf", inputs)
            done = await engine.executions.wait(requested.id, timeout=3600)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            assert done.status == "succeeded", done.result
    finally:  # the next case (and suite) starts with the interpreter's own settings
        gc.unfreeze()
        gc.set_threshold(*threshold)
    return elapsed, cpu


def _rate(tasks: int, seconds: float) -> float:
    return round(tasks / seconds, 1) if seconds > 0 else float("inf")


def _orquesta_row(measured: dict[str, Any] | None) -> tuple[str, float | None]:
    if measured is None:
        return "not measured (make oracle)", None
    if "timeout" in measured:
        rate = measured["tasks"] / measured["timeout"]
        return f"≤ {rate:.1f} ({measured['tasks']} in {measured['timeout']:.0f} s budget)", rate
    rate = measured["tasks"] / measured["seconds"]
    return f"{rate:.1f}", rate


async def run(workdir: Path) -> list[dict[str, Any]]:
    oracle_cases = []
    for _label, workflow, inputs, _tasks, persist in CASES:
        text = yaml.safe_dump(workflow)
        oracle_cases.append({"workflow": text, "inputs": inputs, "budget": ORQUESTA_BUDGET})
        if persist:
            oracle_cases.append({"workflow": text, "inputs": inputs, "persist": True,
                                 "budget": ORQUESTA_BUDGET})  # fmt: skip
    measured = orquesta(oracle_cases)
    rows: list[dict[str, Any]] = []
    position = 0
    for label, workflow, inputs, tasks, persist in CASES:
        start = time.perf_counter()
        done = rehearse(workflow, inputs)
        conductor_seconds = time.perf_counter() - start
        assert done == tasks, (label, done)
        plain = measured[position] if measured else None
        kept = measured[position + 1] if measured and persist else None
        position += 2 if persist else 1
        e2e_seconds, e2e_cpu = await end_to_end(workdir, label, workflow, inputs)
        squall_conductor = _rate(tasks, conductor_seconds)
        squall_e2e = _rate(tasks, e2e_seconds)
        orq_text, orq_rate = _orquesta_row(plain)
        kept_text, kept_rate = _orquesta_row(kept) if persist else ("not run (too slow)", None)
        rows.append({
            "workflow": label,
            "squall conductor tasks/s": squall_conductor,
            "orquesta conductor tasks/s": orq_text,
            "conductor ratio": _ratio(squall_conductor, orq_rate, plain),
            "squall end to end tasks/s": squall_e2e,
            "squall end to end CPU ms/task": round(e2e_cpu * 1000 / tasks, 3),
            "orquesta persisted tasks/s": kept_text,
            "end-to-end ratio": _ratio(squall_e2e, kept_rate, kept),
        })  # fmt: skip
    return rows


def _ratio(mine: float, theirs: float | None, measured: dict[str, Any] | None) -> str:
    if theirs is None or theirs <= 0:
        return "n/a"
    bound = "≥ " if measured is not None and "timeout" in measured else ""
    return f"{bound}{mine / theirs:.0f}x"


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        json.dump(asyncio.run(run(Path(tmp))), sys.stdout, indent=2)

"""The pure conductor as the engine drives it: one child's completion per step.

``bench.workflows`` rehearses the conductor in big batches (every next task started, then
every one completed); the engine instead applies what one child did, asks for the next tasks,
marks them running, and takes the step's delta to save it. This suite measures that loop for
the three shapes issue 18 names (chain 1,000, with-items 5,000, fan-out/fan-in 1,000), with the
workflow parsed and composed once (the engine caches definitions), and reports:

- tasks/s and CPU µs per task for the whole workflow;
- CPU µs of single steps: the first, middle and last child of each shape completing (for the
  fan-in: the 1st, 500th and 999th branch), where a cost that grows with the children done
  shows as a growing number.

Run alone: ``python -m bench.conductor`` (prints JSON).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.workflows import chain, fan, with_items
from core.workflows.conductor import Conductor, TaskRequest
from core.workflows.graph import WorkflowGraph
from core.workflows.spec import parse_workflow

REPEATS = 3


def _graph(workflow: dict[str, Any]) -> WorkflowGraph:
    spec, errors = parse_workflow(workflow)
    assert spec is not None and not errors, errors
    return WorkflowGraph(spec)


class Driver:
    """The engine's loop without I/O: start tasks, complete one child per step."""

    def __init__(self, graph: WorkflowGraph, inputs: dict[str, Any]) -> None:
        self.conductor = Conductor.start(graph, inputs)
        self.conductor.request_status("running")
        self.running: list[tuple[str, int, int | None]] = []
        self.done = 0

    def schedule(self) -> None:
        conductor = self.conductor
        while True:
            found: list[TaskRequest] = conductor.next_tasks()
            if not found:
                break
            for task in found:
                for action in task.actions:
                    conductor.update_task(task.id, task.route, "running", item_id=action.item_id)
                    self.running.append((task.id, task.route, action.item_id))
        conductor.render_output()
        conductor.state.take_delta()

    def step(self) -> None:
        """One child completed: apply it, schedule what follows, take the delta."""
        task_id, route, item = self.running.pop(0) if self.running else ("", 0, None)
        self.conductor.update_task(task_id, route, "succeeded", None, item_id=item)
        self.done += 1
        self.schedule()


def run_workflow(
    graph: WorkflowGraph, inputs: dict[str, Any], probes: tuple[int, ...] = ()
) -> tuple[float, float, dict[int, float]]:
    """(wall s, CPU s, CPU µs of the steps numbered in ``probes``) for one whole run."""
    wall, cpu = time.perf_counter(), time.process_time()
    driver = Driver(graph, inputs)
    driver.schedule()
    steps: dict[int, float] = {}
    while driver.running:
        if driver.done + 1 in probes:
            before = time.process_time()
            driver.step()
            steps[driver.done] = (time.process_time() - before) * 1e6
        else:
            driver.step()
    assert driver.conductor.status == "succeeded", driver.conductor.status
    return time.perf_counter() - wall, time.process_time() - cpu, steps


def _chain_with_input(n: int) -> dict[str, Any]:
    workflow = chain(n)
    workflow["input"] = ["items"]
    return workflow


def _items_with_input(n: int) -> dict[str, Any]:
    workflow = with_items(n)
    workflow["tasks"]["each"]["input"] = {"message": "<% item() %>", "host": "<% ctx().host %>"}
    workflow["input"] = ["items", {"host": "web1"}]
    return workflow


# (label, workflow, inputs, tasks, the first, middle and last child's step (not the
# workflow's own first and last steps, which start or finish it), timed one by one)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], int, tuple[int, ...]]] = [
    ("chain 1000", chain(1000), {}, 1000, (2, 500, 999)),
    (
        "chain 200, 5,000-item input",
        _chain_with_input(200),
        {"items": list(range(5000))},
        200,
        (2, 100, 199),
    ),  # the context's size must not weigh on each transition
    ("with-items 5000", with_items(5000), {"items": list(range(5000))}, 5000, (2, 2500, 4999)),
    (
        "with-items 2000, input from item() and ctx()",
        _items_with_input(2000),
        {"items": list(range(2000))},
        2000,
        (2, 1000, 1999),
    ),
    ("fan-out/in 1000", fan(1000), {}, 1002, (2, 501, 1000)),
]


async def run(_workdir: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for label, workflow, inputs, tasks, probes in CASES:
        graph = _graph(workflow)
        best: tuple[float, float, dict[int, float]] | None = None
        for _ in range(REPEATS):
            found = run_workflow(graph, inputs, probes)
            best = found if best is None or found[1] < best[1] else best
        assert best is not None
        wall, cpu, steps = best
        row: dict[str, Any] = {
            "workflow": label,
            "engine-style steps tasks/s": round(tasks / wall, 1),
            "CPU µs per task": round(cpu / tasks * 1e6, 1),
        }
        for name, number in zip(("first", "middle", "last"), probes, strict=True):
            row[f"{name} child step CPU µs"] = round(steps[number], 1)
        rows.append(row)
    return rows


if __name__ == "__main__":
    json.dump(asyncio.run(run(Path("."))), sys.stdout, indent=2)

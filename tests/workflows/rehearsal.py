"""Rehearse a workflow on Squall's conductor with mocked action results, the same way
tests/oracle/orquesta_rehearse.py rehearses it on Orquesta: while there are next tasks, mark
each running (every item of a with-items task), then complete each with its mock — the n-th
run of a task takes ``mocks[task][n]`` (default: succeeded, result None), item i of a
with-items task takes ``items[task][i]``."""

from __future__ import annotations

from typing import Any

import yaml

from core.workflows.conductor import Conductor
from core.workflows.graph import WorkflowGraph
from core.workflows.inspect import inspect_workflow
from core.workflows.spec import parse_workflow


def rehearse(case: dict[str, Any]) -> dict[str, Any]:
    spec, errors = parse_workflow(yaml.safe_load(case["workflow"]))
    if spec is None:
        return {"invalid": sorted(e.message for e in errors)}
    problems = inspect_workflow(spec)
    if problems:
        return {"invalid": sorted(p.message for p in problems)}
    conductor = Conductor.start(WorkflowGraph(spec), case.get("inputs") or {})
    if conductor.status != "failed":
        conductor.request_status("running")
    runs: dict[str, int] = {}
    for _ in range(10000):
        next_tasks = conductor.next_tasks()
        if not next_tasks:
            break
        for task in next_tasks:
            if task.items_count is not None:
                for action in task.actions:
                    conductor.update_task(task.id, task.route, "running", item_id=action.item_id)
                if task.items_count == 0:
                    conductor.update_task(task.id, task.route, "running")
            else:
                conductor.update_task(task.id, task.route, "running")
        for task in next_tasks:
            if task.items_count is not None:
                if task.items_count == 0:
                    conductor.update_task(task.id, task.route, "succeeded", [])
                    continue
                for action in task.actions:
                    mock = _item_mock(case, task.id, action.item_id or 0)
                    conductor.update_task(
                        task.id,
                        task.route,
                        mock["status"],
                        mock.get("result"),
                        item_id=action.item_id,
                    )
            else:
                mock = _mock(case, task.id, runs)
                conductor.update_task(task.id, task.route, mock["status"], mock.get("result"))
    conductor.render_output()
    state = conductor.state
    return {
        "sequence": [[e.id, e.route, e.status] for e in state.sequence],
        "status": state.status,
        "output": state.output,
        "errors": [e["message"] for e in state.errors],
    }


def _mock(case: dict[str, Any], task_id: str, runs: dict[str, int]) -> dict[str, Any]:
    mocks = case.get("mocks", {}).get(task_id, [])
    n = runs.get(task_id, 0)
    runs[task_id] = n + 1
    found: dict[str, Any] = mocks[n] if n < len(mocks) else {"status": "succeeded", "result": None}
    return found


def _item_mock(case: dict[str, Any], task_id: str, item_id: int) -> dict[str, Any]:
    found = case.get("items", {}).get(task_id, {}).get(str(item_id))
    return found or {"status": "succeeded", "result": None}

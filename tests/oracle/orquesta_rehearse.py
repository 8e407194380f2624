"""Drive PyPI's orquesta (1.2.0, Python 3.8) through a rehearsal, as an oracle for Squall's
conductor. Run by tests/oracle/oracle.py in a Python 3.8 venv; never imported by Squall.

Input (stdin, JSON): {"cases": [{"workflow": YAML, "inputs": {...}, "mocks": {task: [{status,
result}, ...]}, "items": {task: {index: {status, result}}}}]}. Output (stdout, JSON): one result
per case: {"sequence": [[task, route, status], ...], "status", "output", "errors"} or
{"invalid": [messages]} when orquesta's inspection refuses the workflow.

The rehearsal (the same one tests/workflows/rehearsal.py runs on Squall's conductor): while
there are next tasks, mark each running (every item of a with-items task), then complete each
with its mock — the n-th run of a task takes mocks[task][n], default succeeded with result null;
items take items[task][index].
"""

import json
import sys

from orquesta import conducting, events, statuses
from orquesta.specs import native as native_specs


def _mock(case, task_id, runs):
    mocks = case.get("mocks", {}).get(task_id, [])
    n = runs.get(task_id, 0)
    runs[task_id] = n + 1
    return mocks[n] if n < len(mocks) else {"status": "succeeded", "result": None}


def _item_mock(case, task_id, item_id):
    found = case.get("items", {}).get(task_id, {}).get(str(item_id))
    return found or {"status": "succeeded", "result": None}


def rehearse(case):
    spec = native_specs.WorkflowSpec(case["workflow"])
    inspection = spec.inspect()
    if inspection:
        return {"invalid": sorted(e["message"] for group in inspection.values() for e in group)}
    conductor = conducting.WorkflowConductor(spec, inputs=case.get("inputs") or {})
    conductor.request_workflow_status(statuses.RUNNING)
    runs = {}
    accumulated = {}
    for _ in range(10000):
        next_tasks = conductor.get_next_tasks()
        if not next_tasks:
            break
        for task in next_tasks:
            if "items_count" in task:
                for action in task["actions"]:
                    event = events.TaskItemActionExecutionEvent(action["item_id"], statuses.RUNNING)
                    conductor.update_task_state(task["id"], task["route"], event)
                if task["items_count"] == 0:
                    event = events.ActionExecutionEvent(statuses.RUNNING)
                    conductor.update_task_state(task["id"], task["route"], event)
            else:
                event = events.ActionExecutionEvent(statuses.RUNNING)
                conductor.update_task_state(task["id"], task["route"], event)
        for task in next_tasks:
            key = "{}__r{}".format(task["id"], task["route"])
            if "items_count" in task:
                if task["items_count"] == 0:
                    event = events.ActionExecutionEvent(statuses.SUCCEEDED, result=[])
                    conductor.update_task_state(task["id"], task["route"], event)
                    continue
                results = accumulated.setdefault(key, [None] * task["items_count"])
                for action in task["actions"]:
                    mock = _item_mock(case, task["id"], action["item_id"])
                    results[action["item_id"]] = mock.get("result")
                    event = events.TaskItemActionExecutionEvent(
                        action["item_id"],
                        mock["status"],
                        result=mock.get("result"),
                        accumulated_result=list(results),
                    )
                    conductor.update_task_state(task["id"], task["route"], event)
            else:
                mock = _mock(case, task["id"], runs)
                event = events.ActionExecutionEvent(mock["status"], result=mock.get("result"))
                conductor.update_task_state(task["id"], task["route"], event)
    conductor.render_workflow_output()
    sequence = [[t["id"], t["route"], t.get("status")] for t in conductor.workflow_state.sequence]
    return {
        "sequence": sequence,
        "status": conductor.get_workflow_status(),
        "output": conductor.get_workflow_output(),
        "errors": [e["message"] for e in conductor.errors],
    }


def main():
    cases = json.load(sys.stdin)["cases"]
    results = []
    for case in cases:
        try:
            results.append(rehearse(case))
        except Exception as exc:  # an oracle crash is a result to compare, not a harness error
            results.append({"crashed": f"{type(exc).__name__}: {exc}"})
    json.dump(results, sys.stdout, default=str)


if __name__ == "__main__":
    main()

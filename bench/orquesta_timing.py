"""Time PyPI orquesta (1.2.0, Python 3.8) on bench workflows; run by bench/workflows.py in the
oracle's interpreter, never imported by Squall. Python 3.8 syntax only.

stdin: {"cases": [{"workflow": YAML, "inputs": {...}, "persist": bool, "budget": seconds}]}.
stdout: one {"seconds", "tasks"} per case, or {"timeout": seconds, "tasks": done so far}.
``persist`` reloads the conductor from its serialized state before every event and saves it
after, into an SQLite file: how StackStorm's workflow engine keeps Orquesta's state.
"""

import json
import os
import sqlite3
import sys
import tempfile
import time

from orquesta import conducting, events, statuses
from orquesta.specs import native as native_specs


class _Store:
    def __init__(self, path):
        self.db = sqlite3.connect(path)
        self.db.execute("create table wf (id integer primary key, state text)")

    def save(self, conductor):
        self.db.execute(
            "insert or replace into wf values (1, ?)", (json.dumps(conductor.serialize()),)
        )
        self.db.commit()

    def load(self):
        (state,) = self.db.execute("select state from wf where id = 1").fetchone()
        return conducting.WorkflowConductor.deserialize(json.loads(state))


def _run(case, deadline):
    spec = native_specs.WorkflowSpec(case["workflow"])
    conductor = conducting.WorkflowConductor(spec, inputs=case.get("inputs") or {})
    conductor.request_workflow_status(statuses.RUNNING)
    store = None
    if case.get("persist"):
        store = _Store(os.path.join(tempfile.mkdtemp(), "st2.db"))
        store.save(conductor)
    done = 0

    def event(task_id, route, ev):
        nonlocal conductor
        if store is not None:
            conductor = store.load()
        conductor.update_task_state(task_id, route, ev)
        if store is not None:
            store.save(conductor)

    while True:
        if time.perf_counter() > deadline:
            return done, False
        if store is not None:
            conductor = store.load()
        next_tasks = conductor.get_next_tasks()
        if not next_tasks:
            return done, True
        for task in next_tasks:
            if "items_count" in task:
                for action in task["actions"]:
                    event(
                        task["id"],
                        task["route"],
                        events.TaskItemActionExecutionEvent(action["item_id"], statuses.RUNNING),
                    )
            else:
                event(task["id"], task["route"], events.ActionExecutionEvent(statuses.RUNNING))
        for task in next_tasks:
            if "items_count" in task:
                results = [None] * task["items_count"]
                for action in task["actions"]:
                    event(
                        task["id"],
                        task["route"],
                        events.TaskItemActionExecutionEvent(
                            action["item_id"],
                            statuses.SUCCEEDED,
                            result=None,
                            accumulated_result=list(results),
                        ),
                    )
                    done += 1
            else:
                event(task["id"], task["route"], events.ActionExecutionEvent(statuses.SUCCEEDED))
                done += 1


def main():
    results = []
    for case in json.load(sys.stdin)["cases"]:
        budget = float(case.get("budget") or 120)
        start = time.perf_counter()
        done, finished = _run(case, start + budget)
        elapsed = time.perf_counter() - start
        if finished:
            results.append({"seconds": elapsed, "tasks": done})
        else:
            results.append({"timeout": budget, "tasks": done})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()

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


class _OutOfTime(Exception):
    pass


class _Store:
    def __init__(self, path):
        self.db = sqlite3.connect(path)
        self.db.execute("create table wf (id integer primary key, state text)")

    def save(self, conductor):
        state = json.dumps(conductor.serialize())
        self.db.execute("insert or replace into wf values (1, ?)", (state,))
        self.db.commit()

    def load(self):
        (state,) = self.db.execute("select state from wf where id = 1").fetchone()
        return conducting.WorkflowConductor.deserialize(json.loads(state))


class _Rehearsal:
    """Every next task marked running, then succeeded; with a store, the conductor is
    reloaded before and saved after each event, as StackStorm's engine does."""

    def __init__(self, case, deadline):
        spec = native_specs.WorkflowSpec(case["workflow"])
        self.conductor = conducting.WorkflowConductor(spec, inputs=case.get("inputs") or {})
        self.conductor.request_workflow_status(statuses.RUNNING)
        self.store = None
        if case.get("persist"):
            self.store = _Store(os.path.join(tempfile.mkdtemp(), "st2.db"))
            self.store.save(self.conductor)
        self.deadline = deadline
        self.done = 0

    def event(self, task, ev):
        if time.perf_counter() > self.deadline:
            raise _OutOfTime()
        if self.store is not None:
            self.conductor = self.store.load()
        self.conductor.update_task_state(task["id"], task["route"], ev)
        if self.store is not None:
            self.store.save(self.conductor)

    def next_tasks(self):
        if self.store is not None:
            self.conductor = self.store.load()
        found = self.conductor.get_next_tasks()
        if self.store is not None:
            self.store.save(self.conductor)  # get_next_tasks stages items: keep that too
        return found

    def run(self):
        while True:
            next_tasks = self.next_tasks()
            if not next_tasks:
                return
            for task in next_tasks:
                if "items_count" in task:
                    for action in task["actions"]:
                        item = action["item_id"]
                        self.event(
                            task, events.TaskItemActionExecutionEvent(item, statuses.RUNNING)
                        )
                else:
                    self.event(task, events.ActionExecutionEvent(statuses.RUNNING))
            for task in next_tasks:
                if "items_count" in task:
                    results = [None] * task["items_count"]
                    for action in task["actions"]:
                        done = events.TaskItemActionExecutionEvent(
                            action["item_id"], statuses.SUCCEEDED, result=None,
                            accumulated_result=list(results))  # fmt: skip
                        self.event(task, done)
                        self.done += 1
                else:
                    self.event(task, events.ActionExecutionEvent(statuses.SUCCEEDED))
                    self.done += 1


def main():
    results = []
    for case in json.load(sys.stdin)["cases"]:
        budget = float(case.get("budget") or 120)
        start = time.perf_counter()
        rehearsal = _Rehearsal(case, start + budget)
        try:
            rehearsal.run()
            results.append({"seconds": time.perf_counter() - start, "tasks": rehearsal.done})
        except _OutOfTime:
            results.append({"timeout": budget, "tasks": rehearsal.done})
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()

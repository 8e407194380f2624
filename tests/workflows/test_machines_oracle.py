"""Squall's status rules (core/workflows/machines.py) against Orquesta's own transition tables,
for every status and every event Orquesta can name."""

from __future__ import annotations

from typing import Any

import pytest

from core.workflows import machines
from tests.oracle.oracle import SKIP_REASON, oracle_python, run_oracle_script

pytestmark = pytest.mark.skipif(oracle_python() is None, reason=SKIP_REASON)

ALL = ["requested", "scheduled", "delayed", "running", "pending", "pausing", "paused",
       "resuming", "succeeded", "failed", "timeout", "abandoned", "retrying", "canceling",
       "canceled", "null"]  # fmt: skip
CONDITIONAL = {"pending", "paused", "succeeded", "failed", "remediated", "canceled", "retrying"}
ITEM_STATUSES = {"resuming", "pending", "paused", "succeeded", "failed", "timeout", "abandoned",
                 "canceled"}  # fmt: skip
DUMP = (
    "import json\nfrom orquesta import machines\n"
    "print(json.dumps({'workflow': machines.WORKFLOW_STATE_MACHINE_DATA,"
    " 'task': machines.TASK_STATE_MACHINE_DATA}))"
)


@pytest.fixture(scope="module")
def tables() -> dict[str, Any]:
    found: dict[str, Any] = run_oracle_script(DUMP)
    return found


def test_workflow_status_on_task_events(tables: dict[str, Any]) -> None:
    wrong = []
    for current, row in tables["workflow"].items():
        for status in ALL:
            for active in (True, False):
                for progress in ("canceled", "paused", "incomplete", "completed"):
                    for has_next in (True, False):
                        remediated = status in ("failed", "timeout", "abandoned") and has_next
                        event = "task_remediated" if remediated else f"task_{status}"
                        name = event
                        if event[5:] in CONDITIONAL:
                            name += "_workflow_active" if active else "_workflow_dormant"
                        if event in ("task_succeeded", "task_remediated"):
                            name += f"_{progress}"
                        got = machines.workflow_on_task(
                            current, status, active=active, progress=progress, remediated=remediated
                        )
                        if got != row.get(name):
                            wrong.append((current, name, row.get(name), got))
    assert wrong == []


def test_workflow_status_on_requests(tables: dict[str, Any]) -> None:
    wrong = []
    for current, row in tables["workflow"].items():
        for status in ALL:
            for active in (True, False):
                for completed in (True, False):
                    name = f"workflow_{status}"
                    if status in ("pausing", "paused", "canceling", "canceled"):
                        name += "_workflow_active" if active else "_workflow_dormant"
                    done = completed and current == "paused" and status in ("running", "resuming")
                    if done:
                        name += "_workflow_completed"
                    got = machines.workflow_on_request(
                        current, status, active=active, completed=done
                    )
                    if got != row.get(name):
                        wrong.append((current, name, row.get(name), got))
    assert wrong == []


def test_task_status_on_action_events(tables: dict[str, Any]) -> None:
    wrong = []
    for current, row in tables["task"].items():
        for status in ALL:
            plain = [(None, None)]
            with_items = [(a, p) for a in (True, False)
                          for p in ("paused", "canceled", "failed", "incomplete", "completed")
                          if not (a and p != "incomplete")]  # fmt: skip
            for items, combos in ((None, plain), ("items", with_items)):
                for active, progress in combos:
                    name = f"action_{status}"
                    if items and status in ITEM_STATUSES:
                        name += (
                            "_task_active" if active else "_task_dormant"
                        ) + f"_items_{progress}"
                    dims = None if items is None else (bool(active), str(progress))
                    got = machines.task_on_action(current, status, items=dims)
                    if got != row.get(name):
                        wrong.append((current, name, row.get(name), got))
    assert wrong == []


def test_task_status_on_workflow_events_and_commands(tables: dict[str, Any]) -> None:
    wrong = []
    commands = {"continue": "task_continue_requested", "noop": "task_noop_requested",
                "fail": "task_fail_requested", "retry": "task_retry_requested"}  # fmt: skip
    for current, row in tables["task"].items():
        for status in ALL:
            combos = [(None, None), *((a, i) for a in (True, False) for i in (True, False)
                                      if not (a and not i))]  # fmt: skip
            for active, incomplete in combos:
                name = f"workflow_{status}"
                if active is not None and status in ("pausing", "paused", "canceling", "canceled"):
                    name += ("_task_active" if active else "_task_dormant") + (
                        "_items_incomplete" if incomplete else "_items_completed"
                    )
                dims = None if active is None else (active, bool(incomplete))
                got = machines.task_on_workflow(current, status, items=dims)
                if got != row.get(name):
                    wrong.append((current, name, row.get(name), got))
        for command, name in commands.items():
            if machines.task_on_engine(current, command) != row.get(name):
                wrong.append(
                    (current, name, row.get(name), machines.task_on_engine(current, command))
                )
    assert wrong == []

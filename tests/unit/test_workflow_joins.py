"""The join bookkeeping (``WorkflowState.inbound``): each task's inbound sources are tallied once
and then kept current as entries are added and transitions recorded, instead of re-reading every
inbound source on each arrival. Property: on random workflows (the conformance generator's, and
every conformance fixture), completed in random orders with random outcomes, and restored from
their saved records midway, every tally equals Orquesta's recomputation from scratch at every
step, and so does the inbound status the conductor derives from it."""

from __future__ import annotations

import random
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.workflows.conductor import Conductor, WorkflowStatusError
from core.workflows.conductor.transitions import NOT_SATISFIED, SATISFIED, WIP
from core.workflows.expressions import ExpressionError
from core.workflows.graph import WorkflowGraph
from core.workflows.inspect import inspect_workflow
from core.workflows.spec import ENGINE_COMMANDS, parse_workflow
from core.workflows.state import WorkflowState
from tests.workflows.cases import orquesta_cases, own_cases
from tests.workflows.generated import workflow_case


def recomputed(conductor: Conductor, task_id: str, route: int) -> dict[str, bool | None]:
    """Orquesta's evaluation of a task's inbound criteria, from scratch: per source, None if
    it has no entry on the route, else whether one of its transitions to the task fired."""
    evaluation: dict[str, bool | None] = {}
    for edge in conductor.graph.prev_edges(task_id):
        evaluation.setdefault(edge.source, None)
        entry = conductor.state.entry(edge.source, route)
        if entry is None:
            continue
        if not evaluation[edge.source]:
            evaluation[edge.source] = bool(entry.next.get(edge.id))
    return evaluation


def recomputed_status(conductor: Conductor, task_id: str, route: int) -> str:
    evaluation = recomputed(conductor, task_id, route)
    barrier = conductor.graph.barrier(task_id) or 1
    required = len(evaluation) if barrier == "*" else int(barrier)
    if list(evaluation.values()).count(True) >= required:
        return SATISFIED
    state = conductor.state
    if None in evaluation.values() and (state.has_active_tasks or state.has_staged_tasks):
        return WIP
    return NOT_SATISFIED


def check(conductor: Conductor) -> None:
    """Every task on every route: the kept tally and the status agree with recomputation."""
    state = conductor.state
    for task_id in conductor.graph.nodes:
        for route in range(len(state.routes)):
            expected = recomputed_status(conductor, task_id, route)
            assert conductor._inbound_status(task_id, route) == expected, (task_id, route)
    for (task_id, route), tally in state.tallies().items():
        values = recomputed(conductor, task_id, route)
        assert tally.values == values, (task_id, route)
        assert tally.satisfied == list(values.values()).count(True)
        assert tally.unevaluated == list(values.values()).count(None)


def drive(
    workflow: dict[str, Any], inputs: dict[str, Any], rnd: random.Random,
    mocks: dict[str, list[dict[str, Any]]] | None = None,
) -> Conductor:  # fmt: skip
    """Run ``workflow`` completing one random running action (or item) at a time with a random
    outcome (one of the task's mocks, if it has some), checking after every update; restore
    the state from its records once midway, and rerun it once if it failed."""
    spec, errors = parse_workflow(workflow)
    assert spec is not None and not errors
    graph = WorkflowGraph(spec)
    conductor = Conductor.start(graph, inputs)
    if conductor.status == "failed":
        return conductor
    conductor.request_status("running")
    records: dict[tuple[str, str], dict[str, Any]] = {}
    head: dict[str, Any] = {}
    running: list[tuple[str, int, int | None]] = []
    restore_at = rnd.randrange(1, 20)
    reran = False
    for step in range(500):
        for task in conductor.next_tasks():
            if task.items_count == 0 or not task.actions:
                conductor.update_task(task.id, task.route, "running")
                conductor.update_task(task.id, task.route, "succeeded", [])
                continue
            for action in task.actions:
                conductor.update_task(task.id, task.route, "running", item_id=action.item_id)
                running.append((task.id, task.route, action.item_id))
        check(conductor)
        delta = conductor.state.take_delta()
        head = delta.head
        records.update({(kind, key): doc for kind, key, doc in delta.records()})
        if step == restore_at:
            rows = [(kind, key, doc) for (kind, key), doc in records.items()]
            conductor = Conductor(graph, WorkflowState.restore(head, rows))
            check(conductor)
        commands = {c.id for c in conductor.rerun_candidates()} & set(ENGINE_COMMANDS)
        if not running and not reran and conductor.status == "failed" and not commands:
            reran = True  # rerun its failed tasks once: entries are added again, joins follow
            try:
                conductor.request_rerun()
            except WorkflowStatusError:
                break
            check(conductor)
            continue
        if not running:
            break
        task_id, route, item = running.pop(rnd.randrange(len(running)))
        mock = rnd.choice(
            (mocks or {}).get(task_id)
            or [{"status": rnd.choice(("succeeded", "succeeded", "failed")), "result": task_id}]
        )
        try:
            conductor.update_task(task_id, route, mock["status"], mock.get("result"),
                                  item_id=item)  # fmt: skip
        except ExpressionError:
            break  # e.g. a retry's ``when`` reading a result this random outcome lacks
        finally:
            check(conductor)
    return conductor


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(workflow_case(), st.integers(0, 2**32))
def test_tallies_follow_random_workflows_in_random_orders(case: dict[str, Any], seed: int) -> None:
    workflow = yaml.safe_load(case["workflow"])
    spec, errors = parse_workflow(workflow)
    if spec is None or errors or inspect_workflow(spec):
        return
    drive(workflow, {}, random.Random(seed))


CONFORMANCE = [*orquesta_cases(), *own_cases()]


@pytest.mark.parametrize("case", CONFORMANCE, ids=lambda c: c["id"])
def test_tallies_follow_every_conformance_workflow_in_random_orders(case: dict[str, Any]) -> None:
    workflow = yaml.safe_load(case["workflow"])
    spec, errors = parse_workflow(workflow)
    if spec is None or errors or inspect_workflow(spec):
        return
    for seed in range(3):
        drive(workflow, case.get("inputs") or {}, random.Random(seed), case.get("mocks"))


def fan_in(branches: int) -> dict[str, Any]:
    fan_out = [{"do": [f"b{i}" for i in range(branches)]}]
    tasks: dict[str, Any] = {"start": {"action": "core.noop", "next": fan_out}}
    for i in range(branches):
        tasks[f"b{i}"] = {"action": "core.noop",
                          "next": [{"when": "<% succeeded() %>", "do": "join"}]}  # fmt: skip
    tasks["join"] = {"join": "all", "action": "core.noop"}
    return {"version": 1.0, "tasks": tasks}


@pytest.mark.parametrize("seed", range(5))
def test_a_join_all_runs_when_its_last_branch_succeeds_in_any_order(seed: int) -> None:
    rnd = random.Random(seed)
    spec, _ = parse_workflow(fan_in(40))
    assert spec is not None
    conductor = Conductor.start(WorkflowGraph(spec), {})
    conductor.request_status("running")
    assert [t.id for t in conductor.next_tasks()] == ["start"]
    conductor.update_task("start", 0, "running")
    conductor.update_task("start", 0, "succeeded")
    branches = conductor.next_tasks()
    assert len(branches) == 40
    for task in branches:
        conductor.update_task(task.id, task.route, "running")
    rnd.shuffle(branches)
    for done, task in enumerate(branches, start=1):
        conductor.update_task(task.id, task.route, "succeeded")
        ready = [t.id for t in conductor.next_tasks()]
        assert ready == (["join"] if done == len(branches) else []), done
        tally = conductor.state.tallies()["join", 0]
        assert (tally.satisfied, tally.unevaluated) == (done, 0)

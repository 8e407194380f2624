"""Graph composition composes each task once. Orquesta's composer composes a task again each
time a transition reaches it (2**n work for n diamonds in a row); the result must be the same:
the same nodes in the same order, the same edges (keys, criteria, refs) in the same order and
the same retry specs, here compared with that composer on random workflows and every
conformance fixture (cycles included)."""

from __future__ import annotations

from collections import Counter, deque
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from core.workflows.graph import Edge, WorkflowGraph
from core.workflows.spec import WorkflowSpec, parse_workflow
from tests.workflows.cases import orquesta_cases, own_cases
from tests.workflows.generated import workflow_case


def composed_as_orquesta(spec: WorkflowSpec) -> tuple[list[str], list[Edge], dict[str, Any]]:
    """Orquesta's native composer: every arrival at a task composes it again."""
    helper = WorkflowGraph(spec)  # for spec_next, start_tasks and spec_in_cycle only
    nodes: list[str] = []
    edges: list[Edge] = []
    retry: dict[str, Any] = {}
    pairs: dict[tuple[str, str], list[Edge]] = {}
    queue: deque[str] = deque(helper.start_tasks)
    seen: set[str] = set()
    while queue:
        name = queue.popleft()
        if name not in seen:
            seen.add(name)
            nodes.append(name)
        task = spec.task(name)
        if task.retry is not None:
            retry[name] = {"when": task.retry.when, "count": task.retry.count,
                           "delay": task.retry.delay}  # fmt: skip
        for target, when, index in helper.spec_next(name):
            if target == "retry":
                retry[name] = {"when": when or "<% completed() %>", "count": 3}
                continue
            if target not in seen or not helper.spec_in_cycle(target):
                queue.append(target)
            pair = pairs.setdefault((name, target), [])
            if not any(e.criteria == when and e.ref == index for e in pair):
                edge = Edge(name, target, len(pair), when, index)
                pair.append(edge)
                edges.append(edge)
    return nodes, edges, retry


def same_graph(workflow: dict[str, Any]) -> None:
    spec, errors = parse_workflow(workflow)
    if spec is None or errors:
        return
    graph = WorkflowGraph(spec)
    assert (graph.nodes, graph.edges, graph.retry) == composed_as_orquesta(spec)


@settings(max_examples=80, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(workflow_case())
def test_random_workflows_compose_as_orquesta_composes_them(case: dict[str, Any]) -> None:
    same_graph(yaml.safe_load(case["workflow"]))


@pytest.mark.parametrize("case", [*orquesta_cases(), *own_cases()], ids=lambda c: c["id"])
def test_conformance_workflows_compose_as_orquesta_composes_them(case: dict[str, Any]) -> None:
    same_graph(yaml.safe_load(case["workflow"]))


def diamonds(n: int) -> dict[str, Any]:
    tasks: dict[str, Any] = {}
    for i in range(n):
        tasks[f"s{i}"] = {"action": "core.noop", "next": [{"do": [f"a{i}", f"b{i}"]}]}
        tasks[f"a{i}"] = {"action": "core.noop", "next": [{"do": f"j{i}"}]}
        tasks[f"b{i}"] = {"action": "core.noop", "next": [{"do": f"j{i}"}]}
        tasks[f"j{i}"] = {"join": "all", "action": "core.noop"}
        if i + 1 < n:
            tasks[f"j{i}"]["next"] = [{"do": f"s{i + 1}"}]
    return {"version": 1.0, "tasks": tasks}


def test_diamonds_in_a_row_compose_once_each(monkeypatch: pytest.MonkeyPatch) -> None:
    same_graph(diamonds(6))
    spec, errors = parse_workflow(diamonds(12))
    assert spec is not None and not errors
    composed: list[str] = []
    spec_next = WorkflowGraph.spec_next

    def counted(self: WorkflowGraph, task: str) -> list[tuple[str, str | None, int]]:
        composed.append(task)
        return spec_next(self, task)

    monkeypatch.setattr(WorkflowGraph, "spec_next", counted)
    graph = WorkflowGraph(spec)
    assert len(graph.nodes) == 48 and len(graph.edges) == 12 * 4 + 11
    # Each task composed once (the start tasks and the cycle check read every task's
    # transitions once more each); Orquesta's way composes the 12th diamond 2**11 times.
    assert max(Counter(composed).values()) <= 3

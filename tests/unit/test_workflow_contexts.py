"""Merged workflow contexts: the memo (a trie of merged prefixes plus the latest keys) gives the
plain left-to-right merge for any lists of indexes in any order, also past its size limit and
for lists longer than Python's recursion limit; and a workflow that publishes on every step of a
long chain resumes from its saved records (the memo empty) without recursing."""

from __future__ import annotations

import sys
from functools import reduce
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.workflows import contexts as contexts_module
from core.workflows.conductor import Conductor
from core.workflows.contexts import MergedContexts, merge_contexts
from core.workflows.graph import WorkflowGraph
from core.workflows.spec import parse_workflow
from core.workflows.state import WorkflowState

CONTEXTS: list[dict[str, Any]] = [
    {"a": 1}, {"a": 2, "n": {"x": 1}}, {"n": {"y": 2}}, {"b": [1]}, {"n": 3}, {"n": {"z": 0}},
    {}, {"a": {"deep": {"er": 1}}}, {"a": {"deep": {"est": 2}}},
]  # fmt: skip


def plain(indexes: list[int]) -> dict[str, Any]:
    return reduce(lambda merged, i: merge_contexts(merged, CONTEXTS[i]), indexes, {})


index_lists = st.lists(st.integers(0, len(CONTEXTS) - 1), max_size=12)


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(st.one_of(index_lists, index_lists.map(lambda found: [0, 1, *found])), max_size=40))
def test_memo_merges_as_the_plain_merge(lookups: list[list[int]]) -> None:
    memo = MergedContexts()
    for indexes in lookups:
        assert memo.merged(CONTEXTS, indexes) == plain(indexes)
        memo.merged(CONTEXTS, indexes)["added"] = 1  # a caller's key stays its own
        assert memo.merged(CONTEXTS, indexes) == plain(indexes)


def test_memo_past_its_limit_and_longer_than_the_recursion_limit(monkeypatch: Any) -> None:
    monkeypatch.setattr(contexts_module, "_LIMIT", 8)
    memo = MergedContexts()
    long = [i % len(CONTEXTS) for i in range(sys.getrecursionlimit() * 3)]
    for end in (5, 50, len(long), 7, len(long) - 1, 3):
        assert memo.merged(CONTEXTS, long[:end]) == plain(long[:end])


def publishing_chain(n: int) -> dict[str, Any]:
    tasks: dict[str, Any] = {}
    for i in range(n):
        tasks[f"t{i}"] = {"action": "core.noop"}
        if i + 1 < n:
            publish = [{f"v{i % 7}": i}, {"last": "<% ctx(last) + 1 %>"}]
            tasks[f"t{i}"]["next"] = [{"publish": publish, "do": f"t{i + 1}"}]
    return {"version": 1.0, "vars": [{"last": 0}], "tasks": tasks,
            "output": [{"last": "<% ctx(last) %>"}, {"v3": "<% ctx(v3) %>"}]}  # fmt: skip


def test_a_long_publishing_chain_resumes_from_its_records() -> None:
    n = sys.getrecursionlimit() + 200
    spec, errors = parse_workflow(publishing_chain(n))
    assert spec is not None and not errors
    graph = WorkflowGraph(spec)
    conductor = Conductor.start(graph, {})
    conductor.request_status("running")
    records: dict[tuple[str, str], dict[str, Any]] = {}
    head: dict[str, Any] = {}
    for step in range(n):
        (task,) = conductor.next_tasks()
        conductor.update_task(task.id, task.route, "running")
        conductor.update_task(task.id, task.route, "succeeded")
        delta = conductor.state.take_delta()
        records.update({(kind, key): doc for kind, key, doc in delta.records()})
        head = delta.head
        if step == n - 10:  # as after a restart: the state from the store, no memo
            rows = [(kind, key, doc) for (kind, key), doc in records.items()]
            conductor = Conductor(graph, WorkflowState.restore(head, rows))
    conductor.render_output()
    assert conductor.status == "succeeded"
    assert conductor.state.output == {
        "last": n - 1,
        "v3": max(i for i in range(n - 1) if i % 7 == 3),
    }

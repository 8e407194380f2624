"""The workflow graph: tasks and their transitions, composed once from the spec. Pure.

Composition follows Orquesta's native composer, because task routes, transition ids and the
order in which next tasks come out are observable (they are the conformance test's subject):
tasks are reached breadth-first from the start tasks (tasks nothing transitions to, by name);
each ``do`` target of a transition is an edge ``source → target`` keyed by how many edges
already join that pair, with the transition's ``when`` as its criterion and the transition's
index as its ``ref``; ``do: retry`` sets the task's retry spec instead of an edge. A task's
outbound transitions are ordered by target name, then key.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from core.workflows.spec import TaskSpec, WorkflowSpec

__all__ = ["Edge", "WorkflowGraph", "transition_id"]


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    key: int
    criteria: str | None  # the transition's ``when``
    ref: int  # index of the transition in the source task's ``next``

    @property
    def id(self) -> str:
        """How the source task's entry records the transition (``target__tN``)."""
        return transition_id(self.target, self.key)

    @property
    def backref(self) -> str:
        """How the target's staging records where it came from (``source__tN``)."""
        return transition_id(self.source, self.key)


def transition_id(task: str, key: int) -> str:
    return f"{task}__t{key}"


class WorkflowGraph:
    def __init__(self, spec: WorkflowSpec) -> None:
        self.spec = spec
        self.nodes: list[str] = []
        self.edges: list[Edge] = []
        self.retry: dict[str, dict[str, Any]] = {}
        self._pairs: dict[tuple[str, str], list[Edge]] = {}
        self._compose()
        self._next: dict[str, list[Edge]] = {n: [] for n in self.nodes}
        self._prev: dict[str, list[Edge]] = {n: [] for n in self.nodes}
        for edge in self.edges:
            self._next[edge.source].append(edge)
            self._prev[edge.target].append(edge)
        for source, edges in self._next.items():
            self._next[source] = sorted(edges, key=lambda e: e.target)

    # -- composition --------------------------------------------------------------------
    def spec_next(self, task: str) -> list[tuple[str, str | None, int]]:
        """(target, when, transition index) of a task, sorted by target (stable)."""
        found = [
            (target, transition.when, index)
            for index, transition in enumerate(self.spec.task(task).next)
            for target in transition.do
        ]
        return sorted(found, key=lambda t: t[0])

    @cached_property
    def _spec_prev(self) -> dict[str, list[tuple[str, str | None, int]]]:
        prev: dict[str, list[tuple[str, str | None, int]]] = {}
        for name in self.spec.tasks:
            for target, when, index in self.spec_next(name):
                prev.setdefault(target, []).append((name, when, index))
        return {task: sorted(found, key=lambda t: t[0]) for task, found in prev.items()}

    def spec_prev(self, task: str) -> list[tuple[str, str | None, int]]:
        return self._spec_prev.get(task, [])

    @cached_property
    def start_tasks(self) -> list[str]:
        return sorted(name for name in self.spec.tasks if not self.spec_prev(name))

    def _compose(self) -> None:
        queue: deque[str] = deque(self.start_tasks)
        seen: set[str] = set()
        while queue:
            name = queue.popleft()
            if name in seen:
                # Orquesta composes a task again each time it is reached, which adds nothing
                # (its edges exist; what it queues was queued the first time) but costs
                # 2**n for n diamonds in a row: composed once instead.
                continue
            seen.add(name)
            self.nodes.append(name)
            spec = self.spec.task(name)
            if spec.retry is not None:
                self.retry[name] = {"when": spec.retry.when, "count": spec.retry.count,
                                    "delay": spec.retry.delay}  # fmt: skip
            for target, when, index in self.spec_next(name):
                if target == "retry":
                    self.retry[name] = {"when": when or "<% completed() %>", "count": 3}
                    continue
                if target not in seen or not self.spec_in_cycle(target):
                    queue.append(target)
                self._add_edge(name, target, when, index)

    def _add_edge(self, source: str, target: str, when: str | None, index: int) -> None:
        pair = self._pairs.setdefault((source, target), [])
        if any(e.criteria == when and e.ref == index for e in pair):
            return  # the task was reached twice: its transitions are already there
        edge = Edge(source, target, len(pair), when, index)
        pair.append(edge)
        self.edges.append(edge)

    @cached_property
    def _spec_cyclic(self) -> frozenset[str]:
        spec_edges = [
            Edge(name, target, 0, when, index)
            for name in self.spec.tasks
            for target, when, index in self.spec_next(name)
        ]
        return frozenset(_cyclic_nodes(self.spec.tasks, spec_edges))

    def spec_in_cycle(self, task: str) -> bool:
        """Whether the task is reachable from itself through the spec's transitions."""
        return task in self._spec_cyclic

    # -- queries ------------------------------------------------------------------------
    def next_edges(self, task: str) -> list[Edge]:
        return self._next.get(task, [])

    def prev_edges(self, task: str) -> list[Edge]:
        return self._prev.get(task, [])

    @cached_property
    def _inbound(self) -> dict[str, dict[str, tuple[str, ...]]]:
        found: dict[str, dict[str, tuple[str, ...]]] = {}
        for target, edges in self._prev.items():
            sources: dict[str, tuple[str, ...]] = {}
            for edge in edges:
                sources[edge.source] = (*sources.get(edge.source, ()), edge.id)
            found[target] = sources
        return found

    def inbound_sources(self, task: str) -> dict[str, tuple[str, ...]]:
        """Each task with a transition to ``task`` → the ids of those transitions."""
        return self._inbound.get(task, {})

    def has_task(self, task: str) -> bool:
        return task in self._next

    def task_spec(self, task: str) -> TaskSpec:
        return self.spec.task(task)

    def barrier(self, task: str) -> int | str | None:
        """``"*"`` for ``join: all``, the count for ``join: N``, None for no join."""
        join = self.spec.task(task).join
        return "*" if join == "all" else join

    @cached_property
    def barriers(self) -> frozenset[str]:
        return frozenset(n for n in self.nodes if self.barrier(n) not in (None, ""))

    @cached_property
    def _cyclic(self) -> frozenset[str]:
        return frozenset(_cyclic_nodes(self.nodes, self.edges))

    def in_cycle(self, task: str) -> bool:
        return task in self._cyclic

    def is_split(self, task: str) -> bool:
        """Reached by more than one transition and not a join: each arrival is a new route."""
        return self.spec.task(task).join is None and len(self.spec_prev(task)) > 1

    @cached_property
    def roots(self) -> list[str]:
        targets = {e.target for e in self.edges}
        return sorted(n for n in self.nodes if n not in targets)


def _cyclic_nodes(nodes: Iterable[str], edges: Iterable[Edge]) -> set[str]:
    """Nodes on some cycle (Tarjan's strongly connected components, iteratively)."""
    graph: dict[str, list[str]] = {n: [] for n in nodes}
    for edge in edges:
        graph.setdefault(edge.source, []).append(edge.target)
        graph.setdefault(edge.target, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cyclic: set[str] = set()
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph[node]:
                    cyclic.update(component)
    return cyclic

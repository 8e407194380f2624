"""A workflow's conductor state, and what changed since it was last saved. Pure.

The state is Orquesta's model — contexts (append-only), routes (append-only), the sequence of
task entries (one per task execution), the staged tasks, errors — kept so that saving after a
step writes only what the step changed: new contexts and routes, the entries it touched, item
statuses of with-items tasks, and a small head (status, staged tasks, errors, output). The
index of the latest entry per task and route, and the status counts the machines ask about, are
rebuilt on load instead of being saved. ``Delta`` is one step's changes; ``Records`` are what
the store keeps (see core/workflows/engine.py for the write protocol).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.workflows.contexts import MergedContexts, merge_contexts
from core.workflows.machines import ACTIVE

__all__ = ["Delta", "Entry", "Inbound", "Items", "Staged", "WorkflowState", "merge_contexts"]


def route_key(task_id: str, route: int) -> str:
    return f"{task_id}__r{route}"


@dataclass
class Entry:
    """One execution of a task (Orquesta's sequence entry), plus Squall's bookkeeping."""

    id: str
    route: int
    ctx_in: list[int]
    prev: dict[str, int] = field(default_factory=dict)
    next: dict[str, bool] = field(default_factory=dict)
    status: str = "null"
    ctx_out: dict[str, int] = field(default_factory=dict)
    term: bool = False
    retry: dict[str, Any] | None = None
    # Squall: the action's result (for ``task()``), the child executions, and when.
    result: Any = None
    children: list[str] = field(default_factory=list)
    # With-items: each item's final status, kept so a rerun can run only the failed ones.
    item_statuses: list[str] | None = None

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id, "route": self.route, "ctxs": {"in": self.ctx_in, "out": self.ctx_out},
            "prev": self.prev, "next": self.next, "status": self.status,
        }  # fmt: skip
        if self.term:
            doc["term"] = True
        if self.retry is not None:
            doc["retry"] = self.retry
        if self.result is not None:
            doc["result"] = self.result
        if self.children:
            doc["children"] = self.children
        if self.item_statuses is not None:
            doc["item_statuses"] = self.item_statuses
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Entry:
        return cls(
            id=doc["id"], route=doc["route"], ctx_in=list(doc["ctxs"]["in"]),
            prev=dict(doc.get("prev") or {}), next=dict(doc.get("next") or {}),
            status=doc.get("status", "null"), ctx_out=dict(doc["ctxs"].get("out") or {}),
            term=bool(doc.get("term")), retry=doc.get("retry"), result=doc.get("result"),
            children=list(doc.get("children") or ()), item_statuses=doc.get("item_statuses"),
        )  # fmt: skip


class Items:
    """The items of a staged with-items task: each one's status and result, with status
    counts and a cursor at the first item not started, so a step costs O(changed items)."""

    def __init__(self, count: int) -> None:
        self.slots: list[dict[str, Any]] = [{"status": "null"} for _ in range(count)]
        self.counts: Counter[str] = Counter({"null": count}) if count else Counter()
        self._cursor = 0

    def __len__(self) -> int:
        return len(self.slots)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.slots[index]

    def set(self, index: int, slot: dict[str, Any]) -> None:
        self.counts[self.slots[index]["status"]] -= 1
        self.counts[slot["status"]] += 1
        self.slots[index] = slot
        if slot["status"] == "null":
            self._cursor = min(self._cursor, index)

    def statuses(self) -> list[str]:
        return [slot["status"] for slot in self.slots]

    def results(self) -> list[Any]:
        return [slot.get("result") for slot in self.slots]

    def has(self, statuses: Iterable[str]) -> bool:
        return any(self.counts[s] > 0 for s in statuses)

    def not_started(self, limit: int | None = None) -> list[int]:
        """Indexes of items not started yet, in order (at most ``limit``)."""
        if self.counts["null"] <= 0:
            return []
        while self._cursor < len(self.slots) and self.slots[self._cursor]["status"] != "null":
            self._cursor += 1
        found: list[int] = []
        for index in range(self._cursor, len(self.slots)):
            if limit is not None and len(found) >= limit:
                break
            if self.slots[index]["status"] == "null":
                found.append(index)
        return found


@dataclass
class Staged:
    """A task waiting to run (or, for a join, waiting for its inbound tasks)."""

    id: str
    route: int
    ctx_in: list[int]
    prev: dict[str, int] = field(default_factory=dict)
    ready: bool = True
    retry: dict[str, Any] | None = None
    run_on_fail: bool = False
    completed: bool = False
    # With-items: each item's status and result (saved as item records, not in the head).
    items: Items | None = None

    @property
    def key(self) -> str:
        return route_key(self.id, self.route)

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"id": self.id, "route": self.route, "ctxs": {"in": self.ctx_in},
                               "prev": self.prev, "ready": self.ready}  # fmt: skip
        if self.retry is not None:
            doc["retry"] = self.retry
        if self.run_on_fail:
            doc["run_on_fail"] = True
        if self.completed:
            doc["completed"] = True
        if self.items is not None:
            doc["items_count"] = len(self.items)
        return doc

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Staged:
        count = doc.get("items_count")
        return cls(
            id=doc["id"], route=doc["route"], ctx_in=list(doc["ctxs"]["in"]),
            prev=dict(doc.get("prev") or {}), ready=bool(doc.get("ready")),
            retry=doc.get("retry"), run_on_fail=bool(doc.get("run_on_fail")),
            completed=bool(doc.get("completed")),
            items=None if count is None else Items(count),
        )  # fmt: skip


class Inbound:
    """A task's inbound sources on one route, as its join asks about them: per source, None
    while it has no entry on the route, else whether one of its transitions into the task
    fired; with the counts kept as the sources' entries change, so asking costs O(1)."""

    def __init__(self, sources: Mapping[str, tuple[str, ...]]) -> None:
        self.edges = sources  # source → the ids of its transitions into the task
        self.values: dict[str, bool | None] = dict.fromkeys(sources)
        self.satisfied = 0
        self.unevaluated = len(sources)

    def update(self, source: str, entry: Entry | None) -> None:
        old = self.values[source]
        new = None if entry is None else any(entry.next.get(e) for e in self.edges[source])
        if new is old:
            return
        self.satisfied += (new is True) - (old is True)
        self.unevaluated += (new is None) - (old is None)
        self.values[source] = new


@dataclass
class Delta:
    """What one step changed; everything else is as it was saved."""

    contexts: dict[int, dict[str, Any]] = field(default_factory=dict)
    routes: dict[int, list[str]] = field(default_factory=dict)
    entries: dict[int, dict[str, Any]] = field(default_factory=dict)
    items: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    head: dict[str, Any] = field(default_factory=dict)

    def records(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(kind, key, document) for the store."""
        found: list[tuple[str, str, dict[str, Any]]] = []
        found += [("ctx", str(i), {"value": c}) for i, c in self.contexts.items()]
        found += [("route", str(i), {"value": r}) for i, r in self.routes.items()]
        found += [("entry", str(i), e) for i, e in self.entries.items()]
        found += [("item", f"{k}#{i}", doc) for (k, i), doc in self.items.items()]
        return found


class WorkflowState:
    def __init__(self) -> None:
        self.status = "null"
        self.contexts: list[dict[str, Any]] = []
        self.routes: list[list[str]] = []
        self.sequence: list[Entry] = []
        self.staged: dict[str, Staged] = {}  # route key → staged, in staging order
        self.errors: list[dict[str, Any]] = []
        self.output: dict[str, Any] | None = None
        self.reruns: list[list[int]] = []
        self.latest: dict[str, int] = {}
        self.counts: Counter[str] = Counter()
        self._dirty_entries: set[int] = set()
        self._dirty_items: set[tuple[str, int]] = set()
        self._new_contexts = 0
        self._new_routes = 0
        self._merged = MergedContexts()
        self._inbound: dict[tuple[str, int], Inbound] = {}
        # a source's route key → the tasks it feeds (that were asked about) → their tally
        self._watchers: dict[str, dict[str, Inbound]] = {}

    # -- entries ------------------------------------------------------------------------
    def add_entry(self, entry: Entry) -> Entry:
        key = route_key(entry.id, entry.route)
        old = self.latest.get(key)
        if old is not None:
            self.counts[self.sequence[old].status] -= 1
        self.sequence.append(entry)
        self.latest[key] = len(self.sequence) - 1
        self.counts[entry.status] += 1
        self.touch(entry)
        for inbound in self._watchers.get(key, {}).values():
            inbound.update(entry.id, entry)
        return entry

    def entry(self, task_id: str, route: int) -> Entry | None:
        index = self.latest.get(route_key(task_id, route))
        return None if index is None else self.sequence[index]

    def index_of(self, task_id: str, route: int) -> int | None:
        return self.latest.get(route_key(task_id, route))

    def set_status(self, entry: Entry, status: str) -> None:
        if status == entry.status:
            return
        if self.latest.get(route_key(entry.id, entry.route)) == self._position(entry):
            self.counts[entry.status] -= 1
            self.counts[status] += 1
        entry.status = status
        self.touch(entry)

    def _position(self, entry: Entry) -> int:
        index = self.latest.get(route_key(entry.id, entry.route))
        if index is not None and self.sequence[index] is entry:
            return index
        return next(i for i, e in enumerate(self.sequence) if e is entry)

    def touch(self, entry: Entry) -> None:
        self._dirty_entries.add(self._position(entry))

    # -- joins --------------------------------------------------------------------------
    def set_next(self, entry: Entry, transition: str, target: str, taken: bool) -> None:
        """Record whether ``entry``'s transition (to ``target``) fired; the one way a
        transition is recorded, so the tally of ``target``'s inbound sources follows."""
        entry.next[transition] = taken
        self.touch(entry)
        inbound = self._watchers.get(route_key(entry.id, entry.route), {}).get(target)
        if inbound is not None:
            inbound.update(entry.id, self.entry(entry.id, entry.route))

    def inbound(self, task_id: str, route: int, sources: Mapping[str, tuple[str, ...]]) -> Inbound:
        """The inbound sources of ``task_id`` as seen from ``route`` (``sources``: each
        source's transitions into it), tallied once, then kept current by ``add_entry``
        (a source runs again) and ``set_next`` (a source's transition fired or not)."""
        found = self._inbound.get((task_id, route))
        if found is None:
            found = self._inbound[task_id, route] = Inbound(sources)
            for source in sources:
                self._watchers.setdefault(route_key(source, route), {})[task_id] = found
                found.update(source, self.entry(source, route))
        return found

    def has_status(self, statuses: Iterable[str]) -> bool:
        # A plain loop and dict.get: asked several times per task update, and a generator
        # with Counter.__missing__ for the statuses never seen cost more than the answer.
        counts = self.counts
        for status in statuses:  # noqa: SIM110 (a loop: see above)
            if counts.get(status, 0) > 0:
                return True
        return False

    @property
    def has_active_tasks(self) -> bool:
        return self.has_status(ACTIVE)

    def tallies(self) -> Mapping[tuple[str, int], Inbound]:
        """(task, route) → its inbound tally, for each one asked about so far."""
        return self._inbound

    # -- staging ------------------------------------------------------------------------
    def stage(self, staged: Staged) -> Staged:
        self.staged[staged.key] = staged
        return staged

    def staged_task(self, task_id: str, route: int) -> Staged | None:
        return self.staged.get(route_key(task_id, route))

    def unstage(self, task_id: str, route: int) -> None:
        staged = self.staged_task(task_id, route)
        if staged is None:
            return
        if staged.items is not None and staged.items.has(ACTIVE):
            return
        del self.staged[staged.key]

    def ready_staged(self) -> list[Staged]:
        return [s for s in self.staged.values() if s.ready and not s.completed]

    @property
    def has_staged_tasks(self) -> bool:
        return any(s.ready and not s.completed for s in self.staged.values())

    def set_item(self, staged: Staged, item_id: int, status: str, result: Any = None) -> None:
        assert staged.items is not None
        staged.items.set(item_id, {"status": status, "result": result})
        self._dirty_items.add((staged.key, item_id))

    # -- contexts and routes --------------------------------------------------------------
    def add_context(self, context: dict[str, Any]) -> int:
        self.contexts.append(context)
        self._new_contexts += 1
        return len(self.contexts) - 1

    def add_route(self, route: list[str]) -> int:
        self.routes.append(route)
        self._new_routes += 1
        return len(self.routes) - 1

    def context(self, indexes: list[int]) -> dict[str, Any]:
        """The merge of contexts ``indexes`` in order (a new dict)."""
        return self._merged.merged(self.contexts, indexes)

    # -- the expression functions' view ---------------------------------------------------
    def task_status(self, task_id: str, route: int) -> str:
        index = self.latest.get(route_key(task_id, route))
        if index is None:
            if route > 0:
                current = set(self.routes[route])
                for back, earlier in enumerate(reversed(self.routes[:route])):
                    if not set(earlier) - current:
                        return self.task_status(task_id, route - back - 1)
            return "null"
        return self.sequence[index].status

    def task_record(self, task_id: str, route: int) -> Mapping[str, Any] | None:
        entry = self.entry(task_id, route)
        if entry is None:
            return None
        children = entry.children
        return {
            "task_name": entry.id, "task_id": entry.id, "route": entry.route,
            "status": entry.status, "result": _task_execution_result(entry),
            "task_execution_id": children[-1] if children else None,
        }  # fmt: skip

    # -- saving ---------------------------------------------------------------------------
    def head(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "staged": [s.to_doc() for s in self.staged.values()],
            "errors": self.errors,
            "output": self.output,
            "reruns": self.reruns,
            "sizes": {"contexts": len(self.contexts), "routes": len(self.routes),
                      "sequence": len(self.sequence)},
        }  # fmt: skip

    def take_delta(self) -> Delta:
        delta = Delta(
            contexts={i: self.contexts[i] for i in range(len(self.contexts) - self._new_contexts,
                                                         len(self.contexts))},
            routes={i: self.routes[i] for i in range(len(self.routes) - self._new_routes,
                                                     len(self.routes))},
            entries={i: self.sequence[i].to_doc() for i in sorted(self._dirty_entries)},
            items={
                (key, i): self.staged[key].items[i]  # type: ignore[index]
                for key, i in sorted(self._dirty_items)
                if key in self.staged and self.staged[key].items is not None
            },
            head=self.head(),
        )  # fmt: skip
        self._dirty_entries.clear()
        self._dirty_items.clear()
        self._new_contexts = self._new_routes = 0
        return delta

    @classmethod
    def restore(
        cls, head: Mapping[str, Any], records: Iterable[tuple[str, str, Mapping[str, Any]]]
    ) -> WorkflowState:
        state = cls()
        sizes = head.get("sizes") or {}
        contexts: dict[int, Any] = {}
        routes: dict[int, Any] = {}
        entries: dict[int, Any] = {}
        items: dict[str, dict[int, Any]] = {}
        for kind, key, doc in records:
            if kind == "ctx":
                contexts[int(key)] = doc["value"]
            elif kind == "route":
                routes[int(key)] = doc["value"]
            elif kind == "entry":
                entries[int(key)] = doc
            elif kind == "item":
                staged_key, _, position = key.rpartition("#")
                items.setdefault(staged_key, {})[int(position)] = doc
        state.contexts = [contexts[i] for i in range(sizes.get("contexts", 0))]
        state.routes = [routes[i] for i in range(sizes.get("routes", 0))]
        for i in range(sizes.get("sequence", 0)):
            state.add_entry(Entry.from_doc(entries[i]))
        for doc in head.get("staged") or ():
            staged = state.stage(Staged.from_doc(doc))
            for index, item in items.get(staged.key, {}).items():
                if staged.items is not None and index < len(staged.items):
                    staged.items.set(index, dict(item))
        state.status = head.get("status", "null")
        state.errors = list(head.get("errors") or ())
        state.output = head.get("output")
        state.reruns = list(head.get("reruns") or ())
        state._dirty_entries.clear()
        state._dirty_items.clear()
        state._new_contexts = state._new_routes = 0
        return state


def _task_execution_result(entry: Entry) -> Any:
    """The result st2 stores on a task execution, which ``task()`` returns: a with-items
    task's is ``{"items": [{"status", "result"}, ...]}`` (``result()`` in its own transitions
    is Orquesta's plain list of item results)."""
    if entry.item_statuses is None:
        return entry.result
    results = entry.result if isinstance(entry.result, list) else []
    items = [
        {"status": status, "result": results[i] if i < len(results) else None}
        for i, status in enumerate(entry.item_statuses)
    ]
    return {"items": items}

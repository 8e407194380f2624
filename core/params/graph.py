"""Ordering parameters so every template renders after the values it reads (st2-format §2.3)."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Set

from core.params.errors import ParameterError


def _on_cycle(start: str, deps: Mapping[str, Set[str]]) -> bool:
    seen: set[str] = set()
    stack = list(deps.get(start, ()))
    while stack:
        node = stack.pop()
        if node == start:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(deps.get(node, ()))
    return False


def topological_order(deps: Mapping[str, Set[str]]) -> list[str]:
    """Order the keys of ``deps`` (name → names it reads) dependencies-first.

    Names outside ``deps`` are ready-made context and ignored. Ties break by name, so the
    order is deterministic. A cycle raises st2's "Cyclic dependency" error naming its members.
    """
    waiting = {name: {d for d in needs if d in deps} for name, needs in deps.items()}
    readers: dict[str, list[str]] = {name: [] for name in deps}
    for name, needs in waiting.items():
        for dep in needs:
            readers[dep].append(name)
    ready = [name for name, needs in waiting.items() if not needs]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for reader in readers[name]:
            waiting[reader].discard(name)
            if not waiting[reader]:
                heapq.heappush(ready, reader)
    if len(order) < len(deps):
        stuck = {name: waiting[name] for name in deps if waiting[name]}
        cyclic = sorted(name for name in stuck if _on_cycle(name, stuck))
        raise ParameterError(
            f"Cyclic dependency found in the following variables: {', '.join(cyclic)}. "
            "Likely the variable is referencing itself",
            param=cyclic[0] if len(cyclic) == 1 else None,
        )
    return order

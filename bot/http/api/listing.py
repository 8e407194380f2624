"""Caches that keep repeated execution listings cheap (a CLI or console polling a page).

- The API document of a *completed* execution never changes, so it is built once per
  (id, status, number of status changes) and kept in a bounded LRU.
- ``X-Total-Count`` is a full count of the matching rows (O(rows) even on an index); it is
  reused while no execution event happened in this process since, and for at most
  ``COUNT_TTL`` seconds (changes made by other processes sharing the store).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from core.models import Execution
from core.store import ExecutionQuery

DOCS = 20_000
COUNTS = 256
COUNT_TTL = 5.0
DocKey = tuple[str, str, int]


class ListingCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._docs: OrderedDict[DocKey, dict[str, Any]] = OrderedDict()
        self._counts: OrderedDict[ExecutionQuery, tuple[int, float, int]] = OrderedDict()
        self._clock = clock

    def doc(self, execution: Execution, build: Callable[[Execution], dict[str, Any]]) -> Any:
        if not execution.is_completed:
            return build(execution)
        key = (execution.id, str(execution.status), len(execution.log))
        found = self._docs.get(key)
        if found is None:
            found = self._docs[key] = build(execution)
            if len(self._docs) > DOCS:
                self._docs.popitem(last=False)
        else:
            self._docs.move_to_end(key)
        return found

    async def count(
        self, query: ExecutionQuery, generation: int, counter: Callable[[], Awaitable[int]]
    ) -> int:
        key = ExecutionQuery(
            statuses=tuple(query.statuses), action_ref=query.action_ref, user=query.user,
            parent=query.parent, top_level=query.top_level, started_after=query.started_after,
            started_before=query.started_before, limit=0, offset=0,
        )  # fmt: skip
        now = self._clock()
        cached = self._counts.get(key)
        if cached is not None and cached[0] == generation and now - cached[1] < COUNT_TTL:
            return cached[2]
        total = await counter()
        self._counts[key] = (generation, now, total)
        self._counts.move_to_end(key)
        if len(self._counts) > COUNTS:
            self._counts.popitem(last=False)
        return total

"""The execution listing caches: completed documents built once, counts reused only while
nothing happened and for a few seconds."""

from __future__ import annotations

from typing import Any

from bot.http.api.listing import COUNT_TTL, ListingCache
from core.models import Execution, ExecutionStatus
from core.store import ExecutionQuery

S = ExecutionStatus


def _execution() -> Execution:
    return Execution.request("core.noop", "noop", {}, {"user": "alice"})


def test_only_completed_documents_are_reused_and_a_rerun_is_a_new_one() -> None:
    cache = ListingCache()
    built: list[str] = []

    def build(execution: Execution) -> dict[str, Any]:
        built.append(str(execution.status))
        return {"status": str(execution.status)}

    running = _execution().transition(S.RUNNING)
    cache.doc(running, build)
    cache.doc(running, build)
    done = running.transition(S.SUCCEEDED)
    assert cache.doc(done, build) is cache.doc(done, build)
    assert built == ["running", "running", "succeeded"]


async def test_a_count_is_reused_until_an_event_or_the_ttl() -> None:
    now = [0.0]
    cache = ListingCache(clock=lambda: now[0])
    calls: list[int] = []

    async def counter() -> int:
        calls.append(1)
        return len(calls)

    query = ExecutionQuery(user="alice", limit=50)
    assert await cache.count(query, 7, counter) == 1
    assert await cache.count(ExecutionQuery(user="alice", limit=10, offset=5), 7, counter) == 1
    assert await cache.count(query, 8, counter) == 2  # something happened
    now[0] = COUNT_TTL + 1
    assert await cache.count(query, 8, counter) == 3  # maybe another process wrote
    assert await cache.count(ExecutionQuery(user="bob"), 8, counter) == 4

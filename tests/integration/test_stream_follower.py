"""The stream follower on every backend (conftest): changes written to the store by "another
process" (straight to the repository, as a second serve or the CLI would) reach this process's
stream once, in order, and states this process published itself are not repeated."""

from __future__ import annotations

import asyncio
from typing import Any

from core.models import Execution, ExecutionStatus
from core.store import Store
from core.stream.bus import StreamBus, Subscription
from core.stream.executions import ExecutionEvents
from core.stream.follower import ExecutionFollower

S = ExecutionStatus


def to_api(execution: Execution) -> dict[str, Any]:
    return {"id": execution.id, "status": str(execution.status)}


def new(action_ref: str = "core.local") -> Execution:
    return Execution.request(action_ref, "local-shell-cmd", {"cmd": "true"}, {"user": "bob"})


def drained(sub: Subscription) -> list[tuple[str, str, str]]:
    found = []
    while not sub.queue.empty():
        event = sub.queue.get_nowait()
        found.append((event.name, event.data["id"], event.data["status"]))
    return [f for f in found if f[0].startswith("st2.execution__")]


async def advance(store: Store, execution: Execution, status: ExecutionStatus) -> Execution:
    moved = execution.transition(status)
    assert await store.executions.replace(moved, expected_status=execution.status)
    return moved


async def test_changes_made_elsewhere_reach_the_stream_once(store: Store) -> None:
    bus = StreamBus()
    events = ExecutionEvents(bus, to_api)
    follower = ExecutionFollower(store.executions, events, bus, interval=0.05)
    before = new()
    await store.executions.insert(before)
    with bus.subscribe() as sub:
        await follower.look()  # the baseline: what was there is not announced
        assert drained(sub) == []

        elsewhere = new()
        await store.executions.insert(elsewhere)
        await follower.look()
        assert drained(sub) == [("st2.execution__create", elsewhere.id, "requested")]
        await follower.look()
        assert drained(sub) == [], "nothing changed: nothing published"

        running = await advance(store, elsewhere, S.RUNNING)
        before_running = await advance(store, before, S.RUNNING)
        await follower.look()
        assert drained(sub) == [
            ("st2.execution__update", before.id, "running"),
            ("st2.execution__update", elsewhere.id, "running"),
        ]
        # Finished: no longer among the unfinished executions, read by id.
        await advance(store, running, S.SUCCEEDED)
        await follower.look()
        assert drained(sub) == [("st2.execution__update", elsewhere.id, "succeeded")]

        # This process's own change is published at once, and not again by the follower...
        done_here = await advance(store, before_running, S.FAILED)
        events.updated(done_here)
        await follower.look()
        assert drained(sub) == [("st2.execution__update", before.id, "failed")]
        # ...and a state the follower published first is not repeated by the process.
        local = new()
        await store.executions.insert(local)
        events.created(local)
        moved = await advance(store, local, S.RUNNING)
        await follower.look()
        events.updated(moved)
        assert drained(sub) == [
            ("st2.execution__create", local.id, "requested"),
            ("st2.execution__update", local.id, "running"),
        ]


async def test_the_follower_runs_only_while_someone_listens(store: Store) -> None:
    bus = StreamBus()
    events = ExecutionEvents(bus, to_api)
    now = [0.0]
    follower = ExecutionFollower(store.executions, events, bus, interval=0.01, clock=lambda: now[0])
    with bus.subscribe() as sub:
        follower.wake()
        await asyncio.sleep(0.05)  # the baseline look
        elsewhere = new()
        await store.executions.insert(elsewhere)
        for _ in range(200):
            await asyncio.sleep(0.01)
            if not sub.queue.empty():
                break
        assert drained(sub) == [("st2.execution__create", elsewhere.id, "requested")]
    now[0] = 1000.0  # nobody listened for longer than LINGER: it stops
    await asyncio.wait_for(follower._task or asyncio.sleep(0), timeout=5)
    assert follower._task is not None and follower._task.done()
    await follower.close()

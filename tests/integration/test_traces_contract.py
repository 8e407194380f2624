"""The trace repository on every backend: traces read back from instances and executions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from core.models import Execution, TriggerInstance
from core.models.trace import TraceContext
from core.store import Store

BASE = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def _instance(n: int, trace: TraceContext) -> TriggerInstance:
    made = TriggerInstance.new("core.st2.webhook", {"n": n}, source="webhook:x", trace=trace)
    return replace(made, occurrence_time=BASE + timedelta(seconds=n))


def _execution(n: int, trace: TraceContext | None, parent: str | None = None) -> Execution:
    context = {} if trace is None else {"trace_context": trace.to_doc()}
    made = Execution.request("core.noop", "noop", {}, context=context, parent=parent)
    return replace(made, start_timestamp=BASE + timedelta(seconds=n))


async def test_a_trace_is_read_back_from_its_instances_and_executions(store: Store) -> None:
    trace, other = TraceContext.new("deploy-7"), TraceContext.new()
    first, second = _instance(1, trace), _instance(2, trace)
    for item in (first, second, _instance(3, other)):
        assert await store.trigger_instances.insert(item)
    root = _execution(4, trace)
    child = _execution(5, trace, parent=root.id)
    for execution in (root, child, _execution(6, other), _execution(7, None)):
        await store.executions.insert(execution)
    assert [i.id for i in await store.traces.instances(trace.id)] == [first.id, second.id]
    assert [e.id for e in await store.traces.executions(trace.id)] == [root.id, child.id]
    assert (await store.traces.instances(trace.id))[0].trace == trace


async def test_tags_find_the_newest_trace_and_recent_lists_each_trace_once(store: Store) -> None:
    old, new, chat = TraceContext.new("release"), TraceContext.new("release"), TraceContext.new()
    assert await store.trigger_instances.insert(_instance(1, old))
    assert await store.trigger_instances.insert(_instance(2, new))
    assert await store.trigger_instances.insert(_instance(3, new))
    await store.executions.insert(_execution(4, new))
    await store.executions.insert(_execution(5, chat))
    assert await store.traces.find_by_tag("release") == new.id
    assert await store.traces.find_by_tag("nothing") is None
    recent = await store.traces.recent(limit=10)
    assert [(s.id, s.tag) for s in recent] == [
        (chat.id, None),
        (new.id, "release"),
        (old.id, "release"),
    ]
    assert recent[1].start_timestamp == BASE + timedelta(seconds=2)
    assert [s.id for s in await store.traces.recent(limit=10, tag="release")] == [new.id, old.id]
    assert [s.id for s in await store.traces.recent(limit=1)] == [chat.id]
    oldest = await store.traces.recent(limit=2, oldest_first=True)
    assert [s.id for s in oldest] == [old.id, new.id]
    assert oldest[1].start_timestamp == BASE + timedelta(seconds=2)

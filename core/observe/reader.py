"""Read one trace from the store: its instances, their enforcements, its executions."""

from __future__ import annotations

from core.models.trace import TraceContext
from core.observe.traces import Trace, assemble
from core.store import Store


async def read_trace(
    store: Store, *, trace_id: str | None = None, tag: str | None = None
) -> Trace | None:
    """The trace with ``trace_id``, or the newest tagged ``tag``; None when there is none."""
    if trace_id is None and tag is not None:
        trace_id = await store.traces.find_by_tag(tag)
    if trace_id is None:
        return None
    instances = await store.traces.instances(trace_id)
    executions = await store.traces.executions(trace_id)
    if not instances and not executions:
        return None
    enforcements = [
        enforcement
        for instance in instances
        for enforcement in await store.rule_enforcements.list(
            trigger_instance_id=instance.id, limit=0
        )
    ]
    known_tag = tag or next((i.trace.tag for i in instances if i.trace and i.trace.tag), None)
    if known_tag is None:
        known_tag = next(
            (t.tag for e in executions if (t := TraceContext.of_execution(e.context)) and t.tag),
            None,
        )
    return assemble(TraceContext(trace_id, known_tag), instances, enforcements, executions)

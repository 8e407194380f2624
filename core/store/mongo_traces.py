"""The MongoDB ``TraceRepository``: traces read from the records that carry a trace context.

As on SQLite nothing is written for traces; the indexes below serve the lookups by trace id
and tag on the ``trigger_instances`` and ``executions`` collections.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pymongo import ASCENDING, DESCENDING

from core.models import Execution, TriggerInstance
from core.models.execution import parse_ts
from core.models.trace import TraceSummary
from core.store.mongo_errors import Errors

Load = Callable[[dict[str, Any]], Any]

INSTANCE_ID, INSTANCE_TAG = "trace_context.id_", "trace_context.trace_tag"
EXECUTION_ID, EXECUTION_TAG = "context.trace_context.id_", "context.trace_context.trace_tag"
INDEXES: tuple[tuple[str, str, str], ...] = (
    ("trigger_instances", INSTANCE_ID, "occurrence_time"),
    ("trigger_instances", INSTANCE_TAG, "occurrence_time"),
    ("executions", EXECUTION_ID, "start_timestamp"),
    ("executions", EXECUTION_TAG, "start_timestamp"),
)


async def create_indexes(db: Any) -> None:
    for collection, field, when in INDEXES:
        name = "trace_" + field.rsplit(".", 1)[-1].rstrip("_")
        await db[collection].create_index(
            [(field, ASCENDING), (when, ASCENDING)],
            name=name,
            partialFilterExpression={field: {"$exists": True}},
        )


class MongoTraces:
    def __init__(
        self,
        db: Any,
        errors: Errors,
        load_instance: Callable[[dict[str, Any]], TriggerInstance],
        load_execution: Callable[[dict[str, Any]], Execution],
    ) -> None:
        self._instances = db["trigger_instances"]
        self._executions = db["executions"]
        self._errors = errors
        self._load_instance = load_instance
        self._load_execution = load_execution

    async def instances(self, trace_id: str, limit: int = 1000) -> list[TriggerInstance]:
        cursor = self._instances.find({INSTANCE_ID: trace_id}).sort("occurrence_time", ASCENDING)
        with self._errors():
            docs = await cursor.limit(limit).to_list(length=None)
        return [self._load_instance(doc) for doc in docs]

    async def executions(self, trace_id: str, limit: int = 10_000) -> list[Execution]:
        cursor = self._executions.find({EXECUTION_ID: trace_id}).sort("start_timestamp", ASCENDING)
        with self._errors():
            docs = await cursor.limit(limit).to_list(length=None)
        return [self._load_execution(doc) for doc in docs]

    async def find_by_tag(self, tag: str) -> str | None:
        found = await self.recent(limit=1, tag=tag)
        return found[0].id if found else None

    async def recent(
        self, limit: int = 50, tag: str | None = None, *, oldest_first: bool = False
    ) -> list[TraceSummary]:
        if tag is None:
            instance_filter: dict[str, Any] = {INSTANCE_ID: {"$exists": True}}
            execution_filter: dict[str, Any] = {EXECUTION_ID: {"$exists": True}, "parent": None}
        else:
            instance_filter, execution_filter = {INSTANCE_TAG: tag}, {EXECUTION_TAG: tag}
        first: dict[str, TraceSummary] = {}
        sources = (
            (self._instances, instance_filter, "occurrence_time", "trace_context"),
            (self._executions, execution_filter, "start_timestamp", "context.trace_context"),
        )
        for collection, found, when, holder in sources:
            fields = {holder: 1, when: 1}
            order = ASCENDING if oldest_first else DESCENDING
            cursor = collection.find(found, fields).sort(when, order)
            with self._errors():
                docs = await cursor.limit(max(limit, 1)).to_list(length=None)
            for doc in docs:
                summary = _summary(doc, when)
                if summary is not None and (
                    summary.id not in first
                    or summary.start_timestamp < first[summary.id].start_timestamp
                ):
                    first[summary.id] = summary
        ordered = sorted(first.values(), key=lambda s: s.start_timestamp, reverse=not oldest_first)
        return ordered[: max(limit, 1)]


def _summary(doc: dict[str, Any], when: str) -> TraceSummary | None:
    raw = doc.get("trace_context") or (doc.get("context") or {}).get("trace_context") or {}
    ts = parse_ts(doc.get(when))
    if not isinstance(raw, dict) or not isinstance(raw.get("id_"), str) or ts is None:
        return None
    tag = raw.get("trace_tag")
    return TraceSummary(raw["id_"], tag if isinstance(tag, str) else None, ts)

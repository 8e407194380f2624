"""The SQLite ``TraceRepository``: traces read from the records that carry a trace context.

Nothing is written for traces: trigger instances keep ``trace_context`` in their document and
executions in ``context.trace_context``; the writers copy its id and tag into indexed columns
(sqlite_schema v12), so the lookups by trace id and tag are index searches.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.models import Execution, TriggerInstance
from core.models.execution import parse_ts
from core.models.trace import TraceSummary
from core.store.sqlite_db import Database, fetch_all

# Indexed columns the writers fill from the record's trace context (sqlite_schema v12).
INSTANCE_TRACE_ID = "trace_id"
INSTANCE_TRACE_TAG = "trace_tag"
EXECUTION_TRACE_ID = "trace_id"
EXECUTION_TRACE_TAG = "trace_tag"

_RECENT = f"""
SELECT tid, tag, MIN(ts) FROM (
  SELECT * FROM (
    SELECT {INSTANCE_TRACE_ID} AS tid, {INSTANCE_TRACE_TAG} AS tag, occurrence_time AS ts
    FROM trigger_instances WHERE {{instance_filter}}
    ORDER BY occurrence_time {{order}} LIMIT ?)
  UNION ALL
  SELECT * FROM (
    SELECT {EXECUTION_TRACE_ID} AS tid, {EXECUTION_TRACE_TAG} AS tag, start_timestamp AS ts
    FROM executions WHERE {{execution_filter}}
    ORDER BY start_timestamp {{order}} LIMIT ?)
) GROUP BY tid ORDER BY MIN(ts) {{order}} LIMIT ?
"""


class SqliteTraces:
    def __init__(
        self,
        db: Database,
        load_instance: Callable[[str], TriggerInstance],
        load_execution: Callable[[str], Execution],
    ) -> None:
        self._db = db
        self._load_instance = load_instance
        self._load_execution = load_execution

    async def instances(self, trace_id: str, limit: int = 1000) -> list[TriggerInstance]:
        sql = (
            f"SELECT doc FROM trigger_instances WHERE {INSTANCE_TRACE_ID} = ?"
            " ORDER BY occurrence_time, id LIMIT ?"
        )
        rows = await self._db.read(fetch_all, sql, (trace_id, limit))
        return [self._load_instance(row[0]) for row in rows]

    async def executions(self, trace_id: str, limit: int = 10_000) -> list[Execution]:
        sql = (
            f"SELECT doc FROM executions WHERE {EXECUTION_TRACE_ID} = ?"
            " ORDER BY start_timestamp, id LIMIT ?"
        )
        rows = await self._db.read(fetch_all, sql, (trace_id, limit))
        return [self._load_execution(row[0]) for row in rows]

    async def find_by_tag(self, tag: str) -> str | None:
        found = await self.recent(limit=1, tag=tag)
        return found[0].id if found else None

    async def recent(
        self, limit: int = 50, tag: str | None = None, *, oldest_first: bool = False
    ) -> list[TraceSummary]:
        bound = limit if limit > 0 else -1
        if tag is None:
            instance_filter = f"{INSTANCE_TRACE_ID} IS NOT NULL"
            execution_filter = f"parent IS NULL AND {EXECUTION_TRACE_ID} IS NOT NULL"
            args: tuple[Any, ...] = (bound, bound, bound)
        else:
            instance_filter = f"{INSTANCE_TRACE_TAG} = ?"
            execution_filter = f"{EXECUTION_TRACE_TAG} = ?"
            args = (tag, bound, tag, bound, bound)
        sql = _RECENT.format(
            instance_filter=instance_filter,
            execution_filter=execution_filter,
            order="ASC" if oldest_first else "DESC",  # one of two literals, never input
        )
        rows = await self._db.read(fetch_all, sql, args)
        return [
            TraceSummary(row[0], row[1], ts) for row in rows if (ts := parse_ts(row[2])) is not None
        ]

"""The SQLite trigger instance and rule enforcement repositories (sqlite_schema v4).

As for executions, the whole record is the JSON ``doc``; the columns are the ones that queries
filter, sort or enforce uniqueness on. Documents are encoded and decoded on the loop.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from core.models import Execution, RuleEnforcement, TriggerInstance, TriggerInstanceStatus
from core.models.trace import TRACE_CONTEXT
from core.models.trigger_instance import FINISHED
from core.store.base import Fired
from core.store.jsontext import dumps
from core.store.sqlite_db import Database, fetch_all, row_count
from core.store.sqlite_execution_rows import INSERT as _EXECUTION_INSERT
from core.store.sqlite_execution_rows import execution_values, trace_columns
from core.store.sqlite_kv import stamp
from core.store.sqlite_statements import insert_new

_T = TriggerInstanceStatus
# A fired rule as rows: its enforcement's, and its execution's when it requested one.
_FiredRows = tuple[Sequence[Any], Sequence[Any] | None]
_INSTANCE_INSERT = (
    "INSERT INTO trigger_instances"
    " (id, trigger, status, occurrence_time, dedupe_key, doc, trace_id, trace_tag)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSTANCE_REPLACE = (
    "UPDATE trigger_instances SET"
    " (trigger, status, occurrence_time, dedupe_key, doc, trace_id, trace_tag)"
    " = (?, ?, ?, ?, ?, ?, ?) WHERE id = ? AND status = ?"
)
# The settle's CAS changes only the status and its log: those two are set inside the stored
# document (JSON functions run in the writer, off the event loop) instead of encoding the whole
# instance, payload included, a second time.
_INSTANCE_SETTLE = (
    "UPDATE trigger_instances SET status = ?, doc = json_set(doc, '$.status', ?, '$.log', json(?))"
    " WHERE id = ? AND status = ?"
)
_INSTANCE_UNFINISHED = (
    "SELECT doc FROM trigger_instances WHERE status IN (?, ?) ORDER BY occurrence_time, id LIMIT ?"
)
_FINISHED = tuple(sorted(str(s) for s in FINISHED))
_INSTANCE_DELETE = (
    f"DELETE FROM trigger_instances WHERE status IN ({', '.join('?' * len(_FINISHED))})"
    " AND occurrence_time < ?"
)
_ENFORCEMENT_INSERT = (
    "INSERT INTO rule_enforcements"
    " (id, rule_ref, trigger_instance_id, execution_id, enforced_at, doc) VALUES (?, ?, ?, ?, ?, ?)"
)


class SqliteTriggerInstances:
    """``TriggerInstanceRepository`` over the ``trigger_instances`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # Executions fired by a rule are written here, not through the store's executions:
        # the store sets this to seal them like every other execution (core.store.sealing).
        self.seal: Callable[[Execution], Execution] = lambda execution: execution

    async def insert(self, instance: TriggerInstance) -> bool:
        row = (instance.id, *_instance_values(instance))
        return await self._db.write(insert_new, _INSTANCE_INSERT, row)

    async def get(self, instance_id: str) -> TriggerInstance | None:
        sql = "SELECT doc FROM trigger_instances WHERE id = ?"
        rows = await self._db.read(fetch_all, sql, (instance_id,))
        return _load_instance(rows[0][0]) if rows else None

    async def list_unfinished(self, limit: int = 100) -> list[TriggerInstance]:
        args = (str(_T.PENDING), str(_T.PROCESSING), limit if limit > 0 else -1)
        rows = await self._db.read(fetch_all, _INSTANCE_UNFINISHED, args)
        return [_load_instance(row[0]) for row in rows]

    async def list(
        self,
        trigger: str | None = None,
        status: TriggerInstanceStatus | None = None,
        limit: int = 50,
        offset: int = 0,
        *,
        after: datetime | None = None,
        before: datetime | None = None,
    ) -> list[TriggerInstance]:
        where, args = _instance_where(trigger, status, after, before)
        sql = f"SELECT doc FROM trigger_instances{where} ORDER BY occurrence_time DESC, id DESC"
        rows = await self._db.read(fetch_all, sql + " LIMIT ? OFFSET ?", _page(args, limit, offset))
        return [_load_instance(row[0]) for row in rows]

    async def count(
        self,
        trigger: str | None = None,
        status: TriggerInstanceStatus | None = None,
        *,
        after: datetime | None = None,
        before: datetime | None = None,
    ) -> int:
        where, args = _instance_where(trigger, status, after, before)
        rows = await self._db.read(
            fetch_all, f"SELECT COUNT(*) FROM trigger_instances{where}", args
        )
        return int(rows[0][0])

    async def insert_settled(
        self, instance: TriggerInstance, fired: Sequence[Fired]
    ) -> tuple[Execution, ...] | None:
        row = (instance.id, *_instance_values(instance))
        stored = await self._db.write(_insert_settled, row, self._fired_rows(fired))
        return None if stored is None else _stored(fired, stored)

    async def replace(
        self, instance: TriggerInstance, *, expected_status: TriggerInstanceStatus
    ) -> bool:
        args = (*_instance_values(instance), instance.id, str(expected_status))
        return await self._db.write(row_count, _INSTANCE_REPLACE, args) == 1

    async def settle(
        self,
        instance: TriggerInstance,
        *,
        expected_status: TriggerInstanceStatus,
        fired: Sequence[Fired],
    ) -> tuple[Execution, ...] | None:
        status = str(instance.status)
        cas = (status, status, dumps(instance.log_doc()), instance.id, str(expected_status))
        stored = await self._db.write(_settle, cas, self._fired_rows(fired))
        return None if stored is None else _stored(fired, stored)

    def _fired_rows(self, fired: Sequence[Fired]) -> Sequence[_FiredRows]:
        """Each rule's enforcement row and, if it requested one, its sealed execution row."""
        return [
            (
                _enforcement_row(f.enforcement),
                None
                if f.execution is None
                else (f.execution.id, *execution_values(self.seal(f.execution))),
            )
            for f in fired
        ]

    async def delete_before(self, cutoff: datetime) -> int:
        return await self._db.write_bulk(row_count, _INSTANCE_DELETE, (*_FINISHED, stamp(cutoff)))


class SqliteRuleEnforcements:
    """``RuleEnforcementRepository`` over the ``rule_enforcements`` table."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert(self, enforcement: RuleEnforcement) -> bool:
        return await self._db.write(insert_new, _ENFORCEMENT_INSERT, _enforcement_row(enforcement))

    async def get(self, enforcement_id: str) -> RuleEnforcement | None:
        sql = "SELECT doc FROM rule_enforcements WHERE id = ?"
        rows = await self._db.read(fetch_all, sql, (enforcement_id,))
        return _load_enforcement(rows[0][0]) if rows else None

    async def list(
        self,
        rule_ref: str | None = None,
        trigger_instance_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[RuleEnforcement]:
        where, args = _where(("rule_ref", rule_ref), ("trigger_instance_id", trigger_instance_id))
        sql = f"SELECT doc FROM rule_enforcements{where} ORDER BY enforced_at DESC, id DESC"
        rows = await self._db.read(fetch_all, sql + " LIMIT ? OFFSET ?", _page(args, limit, offset))
        return [_load_enforcement(row[0]) for row in rows]

    async def count(
        self, rule_ref: str | None = None, trigger_instance_id: str | None = None
    ) -> int:
        where, args = _where(("rule_ref", rule_ref), ("trigger_instance_id", trigger_instance_id))
        rows = await self._db.read(
            fetch_all, f"SELECT COUNT(*) FROM rule_enforcements{where}", args
        )
        return int(rows[0][0])

    async def delete_before(self, cutoff: datetime) -> int:
        sql = "DELETE FROM rule_enforcements WHERE enforced_at < ?"
        return await self._db.write_bulk(row_count, sql, (stamp(cutoff),))


def _settle(
    conn: sqlite3.Connection, cas: Sequence[Any], rows: Sequence[_FiredRows]
) -> set[str] | None:
    """One job of the writer, so one transaction: the instance CAS first (lost: nothing is
    written), then each rule's enforcement and, if that is new, its execution."""
    if conn.execute(_INSTANCE_SETTLE, cas).rowcount != 1:
        return None
    return _insert_fired(conn, rows)


def _insert_settled(
    conn: sqlite3.Connection, instance: Sequence[Any], rows: Sequence[_FiredRows]
) -> set[str] | None:
    """One job, so one transaction: the new instance (a duplicate: nothing is written), then
    what its rules did."""
    if not insert_new(conn, _INSTANCE_INSERT, instance):
        return None
    return _insert_fired(conn, rows)


def _insert_fired(conn: sqlite3.Connection, rows: Sequence[_FiredRows]) -> set[str]:
    """Each rule's enforcement and, if that is new, its execution; the ids stored."""
    stored: set[str] = set()
    for enforcement, execution in rows:
        if not insert_new(conn, _ENFORCEMENT_INSERT, enforcement) or execution is None:
            continue  # enforced before (by an older version, which stored it on its own)
        if insert_new(conn, _EXECUTION_INSERT, execution):
            stored.add(str(execution[0]))
    return stored


def _stored(fired: Sequence[Fired], stored: set[str]) -> tuple[Execution, ...]:
    return tuple(e for f in fired if (e := f.execution) is not None and e.id in stored)


def _enforcement_row(enforcement: RuleEnforcement) -> tuple[Any, ...]:
    return (
        enforcement.id,
        enforcement.rule_ref,
        enforcement.trigger_instance_id,
        enforcement.execution_id,
        stamp(enforcement.enforced_at),
        dumps(enforcement.to_doc()),
    )


def _where(*filters: tuple[str, str | None]) -> tuple[str, list[Any]]:
    # Column names come from the callers' literals, never from user input.
    pairs = [(column, value) for column, value in filters if value is not None]
    clauses = " AND ".join(f"{column} = ?" for column, _ in pairs)
    return (f" WHERE {clauses}" if pairs else ""), [value for _, value in pairs]


def _instance_where(
    trigger: str | None,
    status: TriggerInstanceStatus | None,
    after: datetime | None,
    before: datetime | None,
) -> tuple[str, list[Any]]:
    where, args = _where(("trigger", trigger), ("status", None if status is None else str(status)))
    bounds = [(op, stamp(ts)) for op, ts in ((">", after), ("<", before)) if ts is not None]
    if not bounds:
        return where, args
    clauses = " AND ".join(f"occurrence_time {op} ?" for op, _ in bounds)
    joined = f"{where} AND {clauses}" if where else f" WHERE {clauses}"
    return joined, [*args, *(value for _, value in bounds)]


def _page(args: list[Any], limit: int, offset: int) -> list[Any]:
    # SQLite: a negative LIMIT is no limit.
    return [*args, limit if limit > 0 else -1, max(offset, 0)]


def _instance_values(instance: TriggerInstance) -> tuple[Any, ...]:
    doc = instance.to_doc()
    return (
        instance.trigger,
        str(instance.status),
        stamp(instance.occurrence_time),
        instance.dedupe_key,
        dumps(doc),
        *trace_columns(doc.get(TRACE_CONTEXT)),
    )


def _load_instance(text: str) -> TriggerInstance:
    return TriggerInstance.from_doc(json.loads(text))


def _load_enforcement(text: str) -> RuleEnforcement:
    return RuleEnforcement.from_doc(json.loads(text))


# For the trace repository, which reads instances by trace id.
load_instance = _load_instance

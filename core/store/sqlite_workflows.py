"""The SQLite workflow state repository (tables ``workflow_heads`` / ``workflow_records``, v7).

A save is one writer job, so one transaction: the head's compare-and-set on ``version`` comes
first and the records follow only if it won; a save is all there or not at all. A step
(``save_step``) writes the task executions that ended and the children it requests in that
same job. Loading reads
every record at or below the head's version in version order and keeps the newest per key.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from core.store import jsontext
from core.store.base import StateWrite, StepWrite, StepWritten, StoredWorkflow, WorkflowRecord
from core.store.sqlite_db import Database, row_count
from core.store.sqlite_execution_rows import INSERT, execution_values, replace_row

_HEAD = "SELECT version, head FROM workflow_heads WHERE id = ?"
_RECORDS = (
    "SELECT kind, key, doc FROM workflow_records WHERE workflow_id = ? AND version <= ?"
    " ORDER BY version"
)
_CREATE = "INSERT INTO workflow_heads (id, version, head) VALUES (?, 1, ?)"
_MOVE = "UPDATE workflow_heads SET version = ?, head = ? WHERE id = ? AND version = ?"
_RECORD = (
    "INSERT OR REPLACE INTO workflow_records (workflow_id, kind, key, version, doc)"
    " VALUES (?, ?, ?, ?, ?)"
)
_SUPERSEDED = """DELETE FROM workflow_records AS r WHERE workflow_id = ? AND version < (
    SELECT MAX(version) FROM workflow_records AS n
    WHERE n.workflow_id = r.workflow_id AND n.kind = r.kind AND n.key = r.key)"""


def _json(value: Any) -> str:
    """The state's documents as the executions' (core.store.jsontext: orjson, the same text);
    what neither takes (a datetime a publish left in the context) is written as its str."""
    try:
        return jsontext.dumps(value)
    except (TypeError, ValueError):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


class SqliteWorkflows:
    """``WorkflowStateRepository`` on SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self, workflow_id: str, head: dict[str, Any], records: Sequence[WorkflowRecord]
    ) -> bool:
        rows = _rows(workflow_id, 1, records)
        return await self._db.write(_create, workflow_id, _json(head), rows)

    async def load(self, workflow_id: str) -> StoredWorkflow | None:
        return await self._db.read(_load, workflow_id)

    async def save(self, workflow_id: str, state: StateWrite) -> bool:
        rows = _rows(workflow_id, state.expected_version + 1, state.records)
        expected, head = state.expected_version, _json(state.head)
        return await self._db.write(_save, workflow_id, expected, head, rows)

    async def save_step(self, workflow_id: str, step: StepWrite) -> StepWritten:
        rows = _rows(workflow_id, step.expected_version + 1, step.records)
        # Documents are encoded here, on the loop; the writer thread only runs SQL.
        ends = [(*execution_values(c.execution), c.execution.id, str(c.expected_status))
                for c in step.completed]  # fmt: skip
        inserts = [(child.id, *execution_values(child)) for child in step.children]
        return await self._db.write(
            _step, workflow_id, step.expected_version, _json(step.head), rows, ends, inserts
        )

    async def compact(self, workflow_id: str) -> int:
        return await self._db.write(row_count, _SUPERSEDED, (workflow_id,))

    async def delete(self, workflow_ids: Sequence[str]) -> int:
        return await self._db.write_bulk(_delete, list(workflow_ids))


def _rows(
    workflow_id: str, version: int, records: Sequence[WorkflowRecord]
) -> list[tuple[Any, ...]]:
    return [(workflow_id, r.kind, r.key, version, _json(r.doc)) for r in records]


def _create(conn: sqlite3.Connection, workflow_id: str, head: str, rows: list[Any]) -> bool:
    try:
        conn.execute(_CREATE, (workflow_id, head))
    except sqlite3.IntegrityError:
        return False
    conn.executemany(_RECORD, rows)
    return True


def _save(
    conn: sqlite3.Connection, workflow_id: str, expected: int, head: str, rows: list[Any]
) -> bool:
    if conn.execute(_MOVE, (expected + 1, head, workflow_id, expected)).rowcount != 1:
        return False
    conn.executemany(_RECORD, rows)
    return True


def _step(
    conn: sqlite3.Connection,
    workflow_id: str,
    expected: int,
    head: str,
    rows: list[Any],
    ends: list[tuple[Any, ...]],
    inserts: list[tuple[Any, ...]],
) -> StepWritten:
    completed = frozenset(str(end[-2]) for end in ends if replace_row(conn, end))
    if len(completed) < len(ends):
        return StepWritten(False, completed)  # a task's end lost its CAS: the state waits
    saved = (
        _create(conn, workflow_id, head, rows)
        if expected == 0
        else _save(conn, workflow_id, expected, head, rows)
    )
    if not saved:
        return StepWritten(False, completed)
    inserted: set[str] = set()
    for values in inserts:
        try:
            conn.execute(INSERT, values)
        except sqlite3.IntegrityError:
            continue  # requested before a crash: left as it is
        inserted.add(values[0])
    return StepWritten(True, completed, frozenset(inserted))


def _load(conn: sqlite3.Connection, workflow_id: str) -> StoredWorkflow | None:
    # One read transaction, so the head and its records are one snapshot (the writer's own
    # connection, used for ``:memory:``, is already inside its batch transaction).
    own = not conn.in_transaction
    if own:
        conn.execute("BEGIN")
    try:
        row = conn.execute(_HEAD, (workflow_id,)).fetchone()
        if row is None:
            return None
        version, head = int(row[0]), json.loads(row[1])
        newest: dict[tuple[str, str], str] = {}
        for kind, key, doc in conn.execute(_RECORDS, (workflow_id, version)):
            newest[(kind, key)] = doc
    finally:
        if own:
            conn.execute("COMMIT")
    records = tuple(WorkflowRecord(k, key, json.loads(doc)) for (k, key), doc in newest.items())
    return StoredWorkflow(workflow_id, version, head, records)


def _delete(conn: sqlite3.Connection, workflow_ids: list[str]) -> int:
    removed = 0
    for start in range(0, len(workflow_ids), 500):
        chunk = workflow_ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        conn.execute(f"DELETE FROM workflow_records WHERE workflow_id IN ({marks})", chunk)
        removed += conn.execute(f"DELETE FROM workflow_heads WHERE id IN ({marks})", chunk).rowcount
    return removed

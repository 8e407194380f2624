"""Embedded store: one SQLite file in WAL mode through the stdlib ``sqlite3``.

The pieces: sqlite_db (URL, options, connections; reads on the loop), sqlite_writer (the writer
thread with group commit, the checkpoint thread), sqlite_schema (migrations) and, here, the
``Store`` and its ``executions`` repository.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from core.models import COMPLETED, Execution, ExecutionStatus
from core.models.execution import isoformat
from core.store.backend import BackendStore, Repositories
from core.store.base import DuplicateExecution, ExecutionQuery, StoreError
from core.store.sqlite_apikeys import SqliteApiKeys
from core.store.sqlite_approvals import SqliteApprovals
from core.store.sqlite_audit import SqliteAudit
from core.store.sqlite_credentials import SqliteCredentials
from core.store.sqlite_db import (
    MEMORY,
    Database,
    SqliteOptions,
    StoreBusy,
    fetch_all,
    parse_url,
    row_count,
)
from core.store.sqlite_events import SqliteRuleEnforcements, SqliteTriggerInstances, load_instance
from core.store.sqlite_execution_rows import COLUMNS, INSERT, execution_values, replace_row, stamp
from core.store.sqlite_kv import SqliteKeyValues
from core.store.sqlite_leases import SqliteLeases, SqliteOutbox
from core.store.sqlite_rule_states import SqliteRuleStates
from core.store.sqlite_schema import current_version
from core.store.sqlite_statements import insert_new
from core.store.sqlite_traces import SqliteTraces
from core.store.sqlite_workflows import SqliteWorkflows

__all__ = ["SqliteExecutions", "SqliteOptions", "SqliteStore", "StoreBusy", "parse_url", "stamp"]


class SqliteStore(BackendStore):
    """The ``Store`` backed by one SQLite file in WAL mode."""

    backend: str = "sqlite"

    def __init__(self, path: Path | str, options: SqliteOptions | None = None) -> None:
        self.path = path if path == MEMORY else Path(path)
        self.options = options or SqliteOptions()
        self._db: Database | None = None

    @classmethod
    def from_url(cls, url: str, *, base_dir: str | None = None) -> SqliteStore:
        path, options = parse_url(url, base_dir=base_dir)
        return cls(path, options)

    @property
    def where(self) -> str:
        return f"SQLite store {self.path}"

    async def open(self) -> None:
        if self._db is None:
            self._db = db = Database(self.path, self.options)
            self._repositories = Repositories(
                executions=SqliteExecutions(db),
                kv=SqliteKeyValues(db),
                trigger_instances=SqliteTriggerInstances(db),
                rule_enforcements=SqliteRuleEnforcements(db),
                api_keys=SqliteApiKeys(db),
                rule_states=SqliteRuleStates(db),
                credentials=SqliteCredentials(db),
                approvals=SqliteApprovals(db),
                audit=SqliteAudit(db),
                workflows=SqliteWorkflows(db),
                leases=SqliteLeases(db),
                outbox=SqliteOutbox(db),
                traces=SqliteTraces(db, load_instance, _load),
            )

    async def close(self) -> None:
        if self._db is not None:
            db, self._db, self._repositories = self._db, None, None
            await db.close()

    async def schema_version(self) -> int:
        if self._db is None:
            raise StoreError(f"{self.where} is not open")
        return await self._db.read(current_version)

    async def probe_write(self) -> None:
        if self._db is None:
            raise StoreError(f"{self.where} is not open")
        await self._db.write(_rewrite_header)


def _rewrite_header(conn: sqlite3.Connection) -> None:
    """A real write (the header's user_version, rewritten unchanged): it needs the write lock
    and a writable file, so /readyz fails while another process holds EXCLUSIVE or the
    files are read-only."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    conn.execute(f"PRAGMA user_version = {int(version)}")


_COLUMNS = COLUMNS
_INSERT = INSERT
_GET = "SELECT doc FROM executions WHERE id = ?"
_NEWEST_FIRST = " ORDER BY start_timestamp DESC, id DESC"
_OLDEST_FIRST = " ORDER BY start_timestamp, id"
# One statement, and inside the writer's BEGIN IMMEDIATE: no other process can claim between
# the choice and the update.
_CLAIM = (
    "UPDATE executions SET owner = ?, lease_expires = ?,"
    " doc = json_set(doc, '$.owner', ?, '$.lease_expires', ?)"
    " WHERE id = (SELECT id FROM executions WHERE status = 'requested'"
    " AND (lease_expires IS NULL OR lease_expires < ?) ORDER BY start_timestamp, id LIMIT 1)"
    " RETURNING doc"
)
_RENEW = (
    "UPDATE executions SET lease_expires = ?, doc = json_set(doc, '$.lease_expires', ?)"
    " WHERE id = ? AND owner = ?"
)
_COMPLETED = tuple(sorted(str(s) for s in COMPLETED))
_DELETE_COMPLETED = (
    f"DELETE FROM executions WHERE status IN ({', '.join('?' * len(_COMPLETED))})"
    " AND end_timestamp < ?"
)


class SqliteExecutions:
    """``ExecutionRepository`` over the ``executions`` table (see sqlite_schema).

    Documents are encoded and decoded here, on the loop; the writer thread only runs SQL.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert(self, execution: Execution) -> None:
        if not await self._db.write(
            insert_new, _INSERT, (execution.id, *execution_values(execution))
        ):
            raise DuplicateExecution(f"execution {execution.id} already exists")

    async def get(self, execution_id: str) -> Execution | None:
        rows = await self._db.read(fetch_all, _GET, (execution_id,))
        return _load(rows[0][0]) if rows else None

    async def list(self, query: ExecutionQuery) -> list[Execution]:
        where, args = _where(query)
        limit = query.limit if query.limit > 0 else -1  # SQLite: a negative LIMIT is no limit
        order = _OLDEST_FIRST if query.oldest_first else _NEWEST_FIRST
        sql = f"SELECT doc FROM executions{where}{order} LIMIT ? OFFSET ?"
        rows = await self._db.read(fetch_all, sql, (*args, limit, max(query.offset, 0)))
        return [_load(row[0]) for row in rows]

    async def count(self, query: ExecutionQuery) -> int:
        where, args = _where(query)
        rows = await self._db.read(fetch_all, f"SELECT COUNT(*) FROM executions{where}", args)
        return int(rows[0][0])

    async def replace(self, execution: Execution, *, expected_status: ExecutionStatus) -> bool:
        args = (*execution_values(execution), execution.id, str(expected_status))
        return await self._db.write(replace_row, args) == 1

    async def claim(self, owner: str, lease_until: datetime, now: datetime) -> Execution | None:
        lease = (owner, stamp(lease_until), owner, isoformat(lease_until), stamp(now))
        rows = await self._db.write(fetch_all, _CLAIM, lease)
        return _load(rows[0][0]) if rows else None

    async def renew_lease(self, execution_id: str, owner: str, lease_until: datetime) -> bool:
        args = (stamp(lease_until), isoformat(lease_until), execution_id, owner)
        return await self._db.write(row_count, _RENEW, args) == 1

    async def delete_completed_before(self, cutoff: datetime) -> int:
        return await self._db.write_bulk(row_count, _DELETE_COMPLETED, (*_COMPLETED, stamp(cutoff)))


def _where(query: ExecutionQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if query.statuses:
        clauses.append(f"status IN ({', '.join('?' * len(query.statuses))})")
        args.extend(str(s) for s in query.statuses)
    # Column names come from this fixed tuple, never from the caller.
    for column, value in (
        ("action_ref", query.action_ref),
        ("user", query.user),
        ("parent", query.parent),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if query.top_level:
        clauses.append("parent IS NULL")
    for op, bound in ((">", query.started_after), ("<", query.started_before)):
        if bound is not None:
            clauses.append(f"start_timestamp {op} ?")
            args.append(stamp(bound))
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


def _load(text: str) -> Execution:
    return Execution.from_doc(json.loads(text))

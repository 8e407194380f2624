"""Embedded store: one SQLite file in WAL mode through the stdlib ``sqlite3``.

The pieces: sqlite_db (URL, options, connections; reads on the loop), sqlite_writer (the writer
thread with group commit, the checkpoint thread), sqlite_schema (migrations) and, here, the
``Store`` and its ``executions`` repository.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from core.kv.crypto import Keys
from core.models import COMPLETED, Execution, ExecutionStatus
from core.models.execution import isoformat
from core.store.base import (
    DuplicateExecution,
    ExecutionQuery,
    ExecutionRepository,
    StoreError,
    WorkflowStateRepository,
)
from core.store.sealing import SealedExecutions, SealedWorkflows, seal_execution
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
from core.store.sqlite_execution_rows import COLUMNS, INSERT, execution_values, stamp
from core.store.sqlite_kv import SqliteKeyValues
from core.store.sqlite_leases import SqliteLeases, SqliteOutbox
from core.store.sqlite_rule_states import SqliteRuleStates
from core.store.sqlite_schema import current_version
from core.store.sqlite_traces import SqliteTraces
from core.store.sqlite_workflows import SqliteWorkflows

__all__ = ["SqliteExecutions", "SqliteOptions", "SqliteStore", "StoreBusy", "parse_url", "stamp"]


class SqliteStore:
    """The ``Store`` backed by one SQLite file in WAL mode."""

    backend: str = "sqlite"

    def __init__(self, path: Path | str, options: SqliteOptions | None = None) -> None:
        self.path = path if path == MEMORY else Path(path)
        self.options = options or SqliteOptions()
        self._db: Database | None = None
        self._executions: SqliteExecutions | None = None
        self._keys: Keys | None = None
        self._sealed: SealedExecutions | None = None
        self._kv: SqliteKeyValues | None = None
        self._trigger_instances: SqliteTriggerInstances | None = None
        self._rule_enforcements: SqliteRuleEnforcements | None = None
        self._api_keys: SqliteApiKeys | None = None
        self._rule_states: SqliteRuleStates | None = None
        self._approvals: SqliteApprovals | None = None
        self._audit: SqliteAudit | None = None
        self._workflows: SqliteWorkflows | None = None
        self._leases: SqliteLeases | None = None
        self._outbox: SqliteOutbox | None = None
        self._traces: SqliteTraces | None = None
        self._credentials: SqliteCredentials | None = None

    @classmethod
    def from_url(cls, url: str, *, base_dir: str | None = None) -> SqliteStore:
        path, options = parse_url(url, base_dir=base_dir)
        return cls(path, options)

    @property
    def executions(self) -> ExecutionRepository:
        if self._executions is None:
            raise StoreError(f"SQLite store {self.path} is not open")
        if self._keys is None:
            return self._executions
        if self._sealed is None or self._sealed.inner is not self._executions:
            self._sealed = SealedExecutions(self._executions, self._keys)
        return self._sealed

    def seal_with(self, keys: Keys) -> None:
        """From now on executions are written sealed and read opened (core.store.sealing)."""
        self._keys = keys
        self.trigger_instances.seal = functools.partial(seal_execution, keys=keys)

    @property
    def kv(self) -> SqliteKeyValues:
        if self._kv is None:
            raise StoreError(f"SQLite store {self.path} is not open")
        return self._kv

    @property
    def trigger_instances(self) -> SqliteTriggerInstances:
        if self._trigger_instances is None:
            raise StoreError(f"SQLite store {self.path} is not open")
        return self._trigger_instances

    @property
    def rule_enforcements(self) -> SqliteRuleEnforcements:
        if self._rule_enforcements is None:
            raise StoreError(f"SQLite store {self.path} is not open")
        return self._rule_enforcements

    @property
    def api_keys(self) -> SqliteApiKeys:
        if self._api_keys is None:
            raise StoreError(f"SQLite store {self.path} is not open")
        return self._api_keys

    @property
    def rule_states(self) -> SqliteRuleStates:
        if self._rule_states is None:
            raise StoreError(f"SQLite store {self.path} is not open")
        return self._rule_states

    @property
    def approvals(self) -> SqliteApprovals:
        if self._approvals is None:
            raise StoreError(f"SQLite store {self.path} is not open")
        return self._approvals

    @property
    def audit(self) -> SqliteAudit:
        if self._audit is None:
            raise StoreError(f"SQLite store {self.path} is not open")
        return self._audit

    @property
    def credentials(self) -> SqliteCredentials:
        if self._credentials is None:
            raise StoreError(f"SQLite store {self.path} is not open")
        return self._credentials

    @property
    def workflows(self) -> WorkflowStateRepository:
        if self._workflows is None:
            raise StoreError(f"SQLite store {self.path} is not open")
        if self._keys is None:
            return self._workflows
        return SealedWorkflows(self._workflows, self._keys)

    @property
    def leases(self) -> SqliteLeases:
        if self._leases is None:
            raise StoreError(f"SQLite store {self.path} is not open")
        return self._leases

    @property
    def outbox(self) -> SqliteOutbox:
        if self._outbox is None:
            raise StoreError(f"SQLite store {self.path} is not open")
        return self._outbox

    @property
    def traces(self) -> SqliteTraces:
        if self._traces is None:
            raise StoreError(f"SQLite store {self.path} is not open")
        return self._traces

    async def open(self) -> None:
        if self._db is None:
            self._db = Database(self.path, self.options)
            self._executions = SqliteExecutions(self._db)
            self._kv = SqliteKeyValues(self._db)
            self._trigger_instances = SqliteTriggerInstances(self._db)
            self._rule_enforcements = SqliteRuleEnforcements(self._db)
            self._api_keys = SqliteApiKeys(self._db)
            self._rule_states = SqliteRuleStates(self._db)
            self._approvals = SqliteApprovals(self._db)
            self._audit = SqliteAudit(self._db)
            self._workflows = SqliteWorkflows(self._db)
            self._leases = SqliteLeases(self._db)
            self._outbox = SqliteOutbox(self._db)
            self._traces = SqliteTraces(self._db, load_instance, _load)
            self._credentials = SqliteCredentials(self._db)

    async def close(self) -> None:
        if self._db is not None:
            db, self._db, self._executions, self._kv = self._db, None, None, None
            self._trigger_instances = self._rule_enforcements = None
            self._api_keys, self._rule_states = None, None
            self._approvals, self._audit, self._workflows = None, None, None
            self._leases, self._outbox, self._traces = None, None, None
            self._credentials = None
            await db.close()

    async def schema_version(self) -> int:
        if self._db is None:
            raise StoreError(f"SQLite store {self.path} is not open")
        return await self._db.read(current_version)

    async def probe_write(self) -> None:
        if self._db is None:
            raise StoreError(f"SQLite store {self.path} is not open")
        await self._db.write(_rewrite_header)


def _rewrite_header(conn: sqlite3.Connection) -> None:
    """A real write (the header's user_version, rewritten unchanged): it needs the write lock
    and a writable file, so /readyz fails while another process holds EXCLUSIVE or the
    files are read-only."""
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    conn.execute(f"PRAGMA user_version = {int(version)}")


_COLUMNS = COLUMNS
_INSERT = INSERT
_REPLACE = (
    "UPDATE executions SET (" + _COLUMNS + ") = (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " WHERE id = ? AND status = ?"
)
_GET = "SELECT doc FROM executions WHERE id = ?"
_NEWEST_FIRST = " ORDER BY start_timestamp DESC, id DESC"
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
        if not await self._db.write(_insert, (execution.id, *execution_values(execution))):
            raise DuplicateExecution(f"execution {execution.id} already exists")

    async def get(self, execution_id: str) -> Execution | None:
        rows = await self._db.read(fetch_all, _GET, (execution_id,))
        return _load(rows[0][0]) if rows else None

    async def list(self, query: ExecutionQuery) -> list[Execution]:
        where, args = _where(query)
        limit = query.limit if query.limit > 0 else -1  # SQLite: a negative LIMIT is no limit
        sql = f"SELECT doc FROM executions{where}{_NEWEST_FIRST} LIMIT ? OFFSET ?"
        rows = await self._db.read(fetch_all, sql, (*args, limit, max(query.offset, 0)))
        return [_load(row[0]) for row in rows]

    async def count(self, query: ExecutionQuery) -> int:
        where, args = _where(query)
        rows = await self._db.read(fetch_all, f"SELECT COUNT(*) FROM executions{where}", args)
        return int(rows[0][0])

    async def replace(self, execution: Execution, *, expected_status: ExecutionStatus) -> bool:
        args = (*execution_values(execution), execution.id, str(expected_status))
        return await self._db.write(row_count, _REPLACE, args) == 1

    async def claim(self, owner: str, lease_until: datetime, now: datetime) -> Execution | None:
        lease = (owner, stamp(lease_until), owner, isoformat(lease_until), stamp(now))
        rows = await self._db.write(fetch_all, _CLAIM, lease)
        return _load(rows[0][0]) if rows else None

    async def renew_lease(self, execution_id: str, owner: str, lease_until: datetime) -> bool:
        args = (stamp(lease_until), isoformat(lease_until), execution_id, owner)
        return await self._db.write(row_count, _RENEW, args) == 1

    async def delete_completed_before(self, cutoff: datetime) -> int:
        return await self._db.write(row_count, _DELETE_COMPLETED, (*_COMPLETED, stamp(cutoff)))


def _insert(conn: sqlite3.Connection, row: Sequence[Any]) -> bool:
    try:
        conn.execute(_INSERT, row)
    except sqlite3.IntegrityError:
        return False  # undone by SQLite on its own; the rest of the batch is unaffected
    return True


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

"""The SQLite audit repository over the ``audit`` table (sqlite_schema v6): append, list."""

from __future__ import annotations

import json

from core.models.audit import AuditEntry
from core.store.sqlite_db import Database, fetch_all, row_count
from core.store.sqlite_kv import stamp

_INSERT = "INSERT INTO audit (at, kind, user, doc) VALUES (?, ?, ?, ?)"
# seq (AUTOINCREMENT) is insertion order, so entries written in the same microsecond keep it.
_LIST = "SELECT doc FROM audit{where} ORDER BY seq DESC LIMIT ?"


class SqliteAudit:
    """``AuditRepository`` on SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert(self, entry: AuditEntry) -> None:
        doc = json.dumps(entry.to_doc(), separators=(",", ":"), ensure_ascii=False)
        await self._db.write(row_count, _INSERT, (stamp(entry.at), entry.kind, entry.user, doc))

    async def list(self, limit: int = 50, user: str | None = None) -> list[AuditEntry]:
        where, args = ("", ()) if user is None else (" WHERE user = ?", (user,))
        sql = _LIST.format(where=where)
        rows = await self._db.read(fetch_all, sql, (*args, limit if limit > 0 else -1))
        return [AuditEntry.from_doc(json.loads(row[0])) for row in rows]

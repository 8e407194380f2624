"""The SQLite approval repository over the ``approvals`` table (sqlite_schema v6).

The whole approval is the JSON ``doc``; ``status`` carries the compare-and-set, and
``created_at`` / ``expires_at`` are fixed-width UTC text so string order is time order.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from core.models.approval import Approval, ApprovalStatus
from core.store.base import StoreError
from core.store.sqlite_db import Database, fetch_all, row_count
from core.store.sqlite_kv import stamp
from core.store.sqlite_statements import insert_new

_INSERT = "INSERT INTO approvals (id, status, created_at, expires_at, doc) VALUES (?, ?, ?, ?, ?)"
_REPLACE = (
    "UPDATE approvals SET (status, created_at, expires_at, doc) = (?, ?, ?, ?)"
    " WHERE id = ? AND status = ?"
)
_GET = "SELECT doc FROM approvals WHERE id = ?"
_NEWEST_FIRST = " ORDER BY created_at DESC, id DESC LIMIT ?"
_EXPIRED = (
    "SELECT doc FROM approvals WHERE status = 'pending' AND expires_at IS NOT NULL"
    " AND expires_at <= ? ORDER BY expires_at, id LIMIT ?"
)


class SqliteApprovals:
    """``ApprovalRepository`` on SQLite; documents are encoded and decoded on the loop."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert(self, approval: Approval) -> None:
        if not await self._db.write(insert_new, _INSERT, (approval.id, *_values(approval))):
            raise StoreError(f"approval {approval.id} already exists")

    async def get(self, approval_id: str) -> Approval | None:
        rows = await self._db.read(fetch_all, _GET, (approval_id,))
        return _load(rows[0][0]) if rows else None

    async def replace(self, approval: Approval, *, expected_status: ApprovalStatus) -> bool:
        args = (*_values(approval), approval.id, str(expected_status))
        return await self._db.write(row_count, _REPLACE, args) == 1

    async def list_expired(self, now: datetime, limit: int = 100) -> list[Approval]:
        rows = await self._db.read(fetch_all, _EXPIRED, (stamp(now), limit if limit > 0 else -1))
        return [_load(row[0]) for row in rows]

    async def list(self, status: ApprovalStatus | None = None, limit: int = 50) -> list[Approval]:
        where, args = ("", ()) if status is None else (" WHERE status = ?", (str(status),))
        sql = f"SELECT doc FROM approvals{where}{_NEWEST_FIRST}"
        rows = await self._db.read(fetch_all, sql, (*args, limit if limit > 0 else -1))
        return [_load(row[0]) for row in rows]


def _values(approval: Approval) -> tuple[Any, ...]:
    """(status, created_at, expires_at, doc)."""
    expires = None if approval.expires_at is None else stamp(approval.expires_at)
    doc = json.dumps(approval.to_doc(), separators=(",", ":"), ensure_ascii=False)
    return (str(approval.status), stamp(approval.created_at), expires, doc)


def _load(text: str) -> Approval:
    return Approval.from_doc(json.loads(text))

"""The SQLite ``LeaseRepository`` and ``OutboxRepository`` (sqlite_schema v8).

Each write is one statement inside the writer's ``BEGIN IMMEDIATE``, so two processes on one
file never both take a lease or both claim an outbox item.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime

from core.models.lease import Lease, OutboxItem
from core.store.sqlite_db import Database, fetch_all, row_count
from core.store.sqlite_kv import stamp

_RENEW = "UPDATE leases SET expires = ? WHERE name = ? AND holder = ?"
_TAKE = (
    "INSERT INTO leases (name, holder, expires, acquired_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires,"
    " acquired_at = excluded.acquired_at WHERE leases.expires < ?"
)
_RELEASE = "DELETE FROM leases WHERE name = ? AND holder = ?"
_LIST = "SELECT name, holder, expires, acquired_at FROM leases ORDER BY name"

_PUT = "INSERT OR IGNORE INTO outbox (id, channel, created_at, doc) VALUES (?, ?, ?, ?)"
_CLAIM = (
    "UPDATE outbox SET holder = ?, claim_expires = ? WHERE id IN (SELECT id FROM outbox"
    " WHERE channel = ? AND (claim_expires IS NULL OR claim_expires < ?)"
    " ORDER BY created_at, id LIMIT ?) RETURNING doc"
)
_DONE = "DELETE FROM outbox WHERE id = ?"
_PURGE = "DELETE FROM outbox WHERE created_at < ? RETURNING channel"


class SqliteLeases:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def acquire(self, name: str, holder: str, until: datetime, now: datetime) -> bool:
        if await self._db.write(row_count, _RENEW, (stamp(until), name, holder)) == 1:
            return True
        take = (name, holder, stamp(until), stamp(now), stamp(now))
        return await self._db.write(row_count, _TAKE, take) == 1

    async def release(self, name: str, holder: str) -> bool:
        return await self._db.write(row_count, _RELEASE, (name, holder)) == 1

    async def list(self) -> list[Lease]:
        rows = await self._db.read(fetch_all, _LIST, ())
        return [
            Lease.from_doc({"name": n, "holder": h, "expires": e, "acquired_at": a})
            for n, h, e, a in rows
        ]


class SqliteOutbox:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def put(self, item: OutboxItem) -> bool:
        doc = json.dumps(item.to_doc(), separators=(",", ":"))
        row = (item.id, item.channel, stamp(item.created_at), doc)
        return await self._db.write(row_count, _PUT, row) == 1

    async def claim(
        self, channel: str, holder: str, until: datetime, now: datetime, limit: int = 50
    ) -> list[OutboxItem]:
        args = (holder, stamp(until), channel, stamp(now), limit)
        rows = await self._db.write(fetch_all, _CLAIM, args)
        items = [OutboxItem.from_doc(json.loads(row[0])) for row in rows]
        return sorted(items, key=lambda i: (i.created_at, i.id))

    async def done(self, item_id: str) -> bool:
        return await self._db.write(row_count, _DONE, (item_id,)) == 1

    async def purge(self, before: datetime) -> dict[str, int]:
        rows = await self._db.write_bulk(fetch_all, _PURGE, (stamp(before),))
        return dict(Counter(str(row[0]) for row in rows))

    async def count(self, channel: str | None = None) -> int:
        if channel is None:
            rows = await self._db.read(fetch_all, "SELECT COUNT(*) FROM outbox", ())
        else:
            sql = "SELECT COUNT(*) FROM outbox WHERE channel = ?"
            rows = await self._db.read(fetch_all, sql, (channel,))
        return int(rows[0][0])

"""The SQLite ``KeyValueRepository`` over the ``kv`` table (sqlite_schema v3)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from core.kv.model import KeyValuePair
from core.kv.names import canonical_scope
from core.models.execution import utc_text
from core.store.sqlite_db import Database, fetch_all, row_count

_COLUMNS = "scope, name, value, secret, encrypted, expire_timestamp, description"
_UPSERT = f"INSERT OR REPLACE INTO kv ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
# Expired rows stay until delete_expired runs, so every read filters them out itself.
_LIVE = "(expire_timestamp IS NULL OR expire_timestamp > ?)"
_GET = f"SELECT {_COLUMNS} FROM kv WHERE scope = ? AND name = ? AND {_LIVE}"
# substr() rather than LIKE: key names may contain % and _, which LIKE would treat as patterns.
_LIST = (
    f"SELECT {_COLUMNS} FROM kv WHERE scope = ? AND substr(name, 1, ?) = ? AND {_LIVE}"
    " ORDER BY name"
)
_DELETE = "DELETE FROM kv WHERE scope = ? AND name = ?"
_DELETE_EXPIRED = "DELETE FROM kv WHERE expire_timestamp IS NOT NULL AND expire_timestamp <= ?"


def stamp(ts: datetime) -> str:
    """Fixed-width UTC text, so string order is time order (as in core.store.sqlite)."""
    return utc_text(ts)


def name_prefix(prefix: str | None, user: str | None) -> str:
    """The stored-name prefix a ``list`` call selects (shared with the Mongo backend)."""
    return (f"{user}:" if user is not None else "") + (prefix or "")


class SqliteKeyValues:
    """``KeyValueRepository`` on SQLite; rows are decoded here, on the loop."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, scope: str, name: str) -> KeyValuePair | None:
        args = (canonical_scope(scope), name, stamp(datetime.now(UTC)))
        rows = await self._db.read(fetch_all, _GET, args)
        return _load(rows[0]) if rows else None

    async def put(self, pair: KeyValuePair) -> None:
        await self._db.write(row_count, _UPSERT, _values(pair))

    async def delete(self, scope: str, name: str) -> bool:
        return await self._db.write(row_count, _DELETE, (canonical_scope(scope), name)) == 1

    async def list(
        self, scope: str, prefix: str | None = None, user: str | None = None
    ) -> list[KeyValuePair]:
        start = name_prefix(prefix, user)
        args = (canonical_scope(scope), len(start), start, stamp(datetime.now(UTC)))
        return [_load(row) for row in await self._db.read(fetch_all, _LIST, args)]

    async def delete_expired(self, now: datetime) -> int:
        return await self._db.write_bulk(row_count, _DELETE_EXPIRED, (stamp(now),))


def _values(pair: KeyValuePair) -> tuple[Any, ...]:
    expiry = None if pair.expire_timestamp is None else stamp(pair.expire_timestamp)
    return (
        pair.scope,
        pair.name,
        pair.value,
        int(pair.secret),
        int(pair.encrypted),
        expiry,
        pair.description,
    )


def _load(row: Sequence[Any]) -> KeyValuePair:
    scope, name, value, secret, encrypted, expiry, description = row
    return KeyValuePair(
        name=name,
        value=value,
        scope=scope,
        secret=bool(secret),
        encrypted=bool(encrypted),
        expire_timestamp=None if expiry is None else datetime.fromisoformat(expiry),
        description=description,
    )

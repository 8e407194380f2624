"""The SQLite ``ApiKeyRepository`` over the ``api_keys`` table (sqlite_schema v5).

``key_hash`` is UNIQUE, so a lookup is one index probe on the hash of what the caller sent: no
stored secret is compared byte by byte against the input.
"""

from __future__ import annotations

import json
from datetime import datetime

from core.models.apikey import ApiKey
from core.models.execution import isoformat
from core.store.base import StoreError
from core.store.sqlite_db import Database, fetch_all, row_count
from core.store.sqlite_kv import stamp
from core.store.sqlite_statements import insert_new

_INSERT = "INSERT INTO api_keys (id, key_hash, created_at, revoked_at, doc) VALUES (?, ?, ?, ?, ?)"
_FIND = "SELECT doc FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL"
_LIST = "SELECT doc FROM api_keys ORDER BY created_at, id"
# Only an unrevoked key changes, so the first revocation time is the one kept.
_REVOKE = (
    "UPDATE api_keys SET revoked_at = ?, doc = json_set(doc, '$.revoked_at', ?)"
    " WHERE id = ? AND revoked_at IS NULL"
)


class SqliteApiKeys:
    """``ApiKeyRepository`` on SQLite; documents are encoded and decoded on the loop."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert(self, key: ApiKey) -> None:
        row = (key.id, key.key_hash, stamp(key.created_at), _stamp_or_none(key.revoked_at),
               json.dumps(key.to_doc()))  # fmt: skip
        if not await self._db.write(insert_new, _INSERT, row):
            raise StoreError(f"api key {key.id} already exists")

    async def find_by_hash(self, key_hash: str) -> ApiKey | None:
        rows = await self._db.read(fetch_all, _FIND, (key_hash,))
        return ApiKey.from_doc(json.loads(rows[0][0])) if rows else None

    async def list(self) -> list[ApiKey]:
        return [
            ApiKey.from_doc(json.loads(row[0])) for row in await self._db.read(fetch_all, _LIST, ())
        ]

    async def revoke(self, key_id: str, at: datetime) -> bool:
        args = (stamp(at), isoformat(at), key_id)
        return await self._db.write(row_count, _REVOKE, args) == 1


def _stamp_or_none(ts: datetime | None) -> str | None:
    return None if ts is None else stamp(ts)

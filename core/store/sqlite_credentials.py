"""The SQLite ``CredentialRepository`` over ``passwords`` and ``tokens`` (sqlite_schema v8)."""

from __future__ import annotations

import json
from datetime import datetime

from core.auth.tokens import Token
from core.models.execution import isoformat
from core.store.base import StoreError
from core.store.sqlite_db import Database, fetch_all, row_count
from core.store.sqlite_kv import stamp
from core.store.sqlite_statements import insert_new

_SET_PASSWORD = "INSERT OR REPLACE INTO passwords (user, hash, updated_at) VALUES (?, ?, ?)"
_PASSWORD = "SELECT hash FROM passwords WHERE user = ?"
_INSERT = "INSERT INTO tokens (id, token_hash, user, expiry, revoked_at, doc) VALUES (?,?,?,?,?,?)"
_FIND = "SELECT doc FROM tokens WHERE token_hash = ? AND revoked_at IS NULL"
_REVOKE = (
    "UPDATE tokens SET revoked_at = ?, doc = json_set(doc, '$.revoked_at', ?)"
    " WHERE id = ? AND revoked_at IS NULL"
)
_EXPIRED = "DELETE FROM tokens WHERE expiry < ?"
_REVOKE_USER = (
    "UPDATE tokens SET revoked_at = ?, doc = json_set(doc, '$.revoked_at', ?)"
    " WHERE user = ? AND revoked_at IS NULL"
)


class SqliteCredentials:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def set_password(self, user: str, password_hash: str, at: datetime) -> None:
        await self._db.write(row_count, _SET_PASSWORD, (user, password_hash, stamp(at)))

    async def password_of(self, user: str) -> str | None:
        rows = await self._db.read(fetch_all, _PASSWORD, (user,))
        return str(rows[0][0]) if rows else None

    async def insert_token(self, token: Token) -> None:
        row = (token.id, token.token_hash, token.user, stamp(token.expiry), None,
               json.dumps(token.to_doc()))  # fmt: skip
        if not await self._db.write(insert_new, _INSERT, row):
            raise StoreError(f"token {token.id} already exists")

    async def find_token(self, token_hash: str) -> Token | None:
        rows = await self._db.read(fetch_all, _FIND, (token_hash,))
        return Token.from_doc(json.loads(rows[0][0])) if rows else None

    async def revoke_token(self, token_id: str, at: datetime) -> bool:
        args = (stamp(at), isoformat(at), token_id)
        return await self._db.write(row_count, _REVOKE, args) == 1

    async def revoke_tokens_of(self, user: str, at: datetime) -> int:
        return await self._db.write(row_count, _REVOKE_USER, (stamp(at), isoformat(at), user))

    async def delete_tokens_expired_before(self, cutoff: datetime) -> int:
        return await self._db.write_bulk(row_count, _EXPIRED, (stamp(cutoff),))

"""The MongoDB ``CredentialRepository`` over the ``passwords`` and ``tokens`` collections."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from core.auth.tokens import Token
from core.models.execution import isoformat
from core.store.base import StoreError
from core.store.mongo_errors import Errors


async def create_indexes(db: Any) -> None:
    await db["tokens"].create_index([("token_hash", ASCENDING)], name="hash", unique=True)
    await db["tokens"].create_index([("expiry", ASCENDING)], name="expiry")


class MongoCredentials:
    def __init__(self, passwords: Any, tokens: Any, errors: Errors) -> None:
        self._passwords = passwords
        self._tokens = tokens
        self._errors = errors

    async def set_password(self, user: str, password_hash: str, at: datetime) -> None:
        doc = {"hash": password_hash, "updated_at": isoformat(at)}
        with self._errors():
            await self._passwords.replace_one({"_id": user}, doc, upsert=True)

    async def password_of(self, user: str) -> str | None:
        with self._errors():
            doc = await self._passwords.find_one({"_id": user})
        return None if doc is None else str(doc["hash"])

    async def insert_token(self, token: Token) -> None:
        doc = token.to_doc()
        doc["_id"] = doc.pop("id")
        with self._errors():
            try:
                await self._tokens.insert_one(doc)
            except DuplicateKeyError as exc:
                raise StoreError(f"token {token.id} already exists") from exc

    async def find_token(self, token_hash: str) -> Token | None:
        with self._errors():
            doc = await self._tokens.find_one({"token_hash": token_hash, "revoked_at": None})
        return None if doc is None else Token.from_doc({**doc, "id": doc["_id"]})

    async def revoke_token(self, token_id: str, at: datetime) -> bool:
        with self._errors():
            result = await self._tokens.update_one(
                {"_id": token_id, "revoked_at": None}, {"$set": {"revoked_at": isoformat(at)}}
            )
        return bool(result.matched_count == 1)

    async def revoke_tokens_of(self, user: str, at: datetime) -> int:
        with self._errors():
            result = await self._tokens.update_many(
                {"user": user, "revoked_at": None}, {"$set": {"revoked_at": isoformat(at)}}
            )
        return int(result.modified_count)

    async def delete_tokens_expired_before(self, cutoff: datetime) -> int:
        with self._errors():
            result = await self._tokens.delete_many({"expiry": {"$lt": isoformat(cutoff)}})
        return int(result.deleted_count)

"""The MongoDB ``ApiKeyRepository`` over the ``api_keys`` collection.

Documents are ``ApiKey.to_doc()`` with ``_id`` in place of ``id`` and timestamps as fixed-width
UTC text. The unique ``key_hash`` index is what lookups use, and what refuses a duplicate key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from core.models.apikey import ApiKey
from core.models.execution import isoformat
from core.store.base import StoreError
from core.store.mongo_errors import Errors

COLLECTION = "api_keys"
INDEXES: tuple[tuple[list[tuple[str, int]], dict[str, Any]], ...] = (
    ([("key_hash", ASCENDING)], {"name": "key_hash", "unique": True}),
    ([("created_at", ASCENDING), ("_id", ASCENDING)], {"name": "created"}),
)


async def create_indexes(db: Any) -> None:
    for keys, options in INDEXES:
        await db[COLLECTION].create_index(keys, **options)


class MongoApiKeys:
    """``ApiKeyRepository`` on MongoDB; ``errors`` turns driver errors into StoreError."""

    def __init__(self, collection: Any, errors: Errors) -> None:
        self._coll = collection
        self._errors = errors

    async def insert(self, key: ApiKey) -> None:
        with self._errors():
            try:
                await self._coll.insert_one(_to_mongo(key))
            except DuplicateKeyError as exc:
                raise StoreError(f"api key {key.id} already exists") from exc

    async def find_by_hash(self, key_hash: str) -> ApiKey | None:
        with self._errors():
            doc = await self._coll.find_one({"key_hash": key_hash, "revoked_at": None})
        return None if doc is None else _from_mongo(doc)

    async def list(self) -> list[ApiKey]:
        cursor = self._coll.find({}).sort([("created_at", ASCENDING), ("_id", ASCENDING)])
        with self._errors():
            docs = await cursor.to_list(length=None)
        return [_from_mongo(doc) for doc in docs]

    async def revoke(self, key_id: str, at: datetime) -> bool:
        with self._errors():
            result = await self._coll.update_one(
                {"_id": key_id, "revoked_at": None}, {"$set": {"revoked_at": isoformat(at)}}
            )
        return bool(result.matched_count == 1)


def _to_mongo(key: ApiKey) -> dict[str, Any]:
    doc = key.to_doc()
    doc["_id"] = doc.pop("id")
    return doc


def _from_mongo(doc: dict[str, Any]) -> ApiKey:
    return ApiKey.from_doc({**doc, "id": doc["_id"]})

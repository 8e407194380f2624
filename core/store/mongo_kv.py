"""The MongoDB ``KeyValueRepository`` over the ``kv`` collection.

Documents carry ``scope`` and ``name`` fields under a unique (scope, name) index; the expiry
is fixed-width UTC text like the executions' timestamps, so no TTL index (which needs BSON
dates) is used: ``delete_expired`` is the sweep, and reads skip expired items themselves.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING

from core.kv.model import KeyValuePair
from core.kv.names import canonical_scope
from core.store.mongo_errors import Errors
from core.store.sqlite_kv import name_prefix, stamp

COLLECTION = "kv"
INDEXES: tuple[tuple[list[tuple[str, int]], dict[str, Any]], ...] = (
    ([("scope", ASCENDING), ("name", ASCENDING)], {"name": "scope_name", "unique": True}),
    ([("expire_timestamp", ASCENDING)], {"name": "expire"}),
)


async def create_indexes(db: Any) -> None:
    for keys, options in INDEXES:
        await db[COLLECTION].create_index(keys, **options)


def _live(now: datetime) -> dict[str, Any]:
    return {"$or": [{"expire_timestamp": None}, {"expire_timestamp": {"$gt": stamp(now)}}]}


class MongoKeyValues:
    """``KeyValueRepository`` on MongoDB; ``errors`` turns driver errors into StoreError."""

    def __init__(self, collection: Any, errors: Errors) -> None:
        self._coll = collection
        self._errors = errors

    async def get(self, scope: str, name: str) -> KeyValuePair | None:
        found = {"scope": canonical_scope(scope), "name": name, **_live(datetime.now(UTC))}
        with self._errors():
            doc = await self._coll.find_one(found)
        return None if doc is None else _from_mongo(doc)

    async def put(self, pair: KeyValuePair) -> None:
        key = {"scope": pair.scope, "name": pair.name}
        with self._errors():
            await self._coll.replace_one(key, _to_mongo(pair), upsert=True)

    async def delete(self, scope: str, name: str) -> bool:
        with self._errors():
            result = await self._coll.delete_one({"scope": canonical_scope(scope), "name": name})
        return bool(result.deleted_count == 1)

    async def list(
        self, scope: str, prefix: str | None = None, user: str | None = None
    ) -> list[KeyValuePair]:
        found: dict[str, Any] = {"scope": canonical_scope(scope), **_live(datetime.now(UTC))}
        start = name_prefix(prefix, user)
        if start:
            # Escaped, so a name with regex metacharacters matches only itself.
            found["name"] = {"$regex": "^" + re.escape(start)}
        cursor = self._coll.find(found).sort([("name", ASCENDING)])
        with self._errors():
            docs = await cursor.to_list(length=None)
        return [_from_mongo(doc) for doc in docs]

    async def delete_expired(self, now: datetime) -> int:
        expired = {"expire_timestamp": {"$ne": None, "$lte": stamp(now)}}
        with self._errors():
            result = await self._coll.delete_many(expired)
        return int(result.deleted_count)


def _to_mongo(pair: KeyValuePair) -> dict[str, Any]:
    expiry = None if pair.expire_timestamp is None else stamp(pair.expire_timestamp)
    return {
        "scope": pair.scope,
        "name": pair.name,
        "value": pair.value,
        "secret": pair.secret,
        "encrypted": pair.encrypted,
        "expire_timestamp": expiry,
        "description": pair.description,
    }


def _from_mongo(doc: dict[str, Any]) -> KeyValuePair:
    expiry = doc.get("expire_timestamp")
    return KeyValuePair(
        name=doc["name"],
        value=doc["value"],
        scope=doc["scope"],
        secret=bool(doc.get("secret")),
        encrypted=bool(doc.get("encrypted")),
        expire_timestamp=None if expiry is None else datetime.fromisoformat(expiry),
        description=doc.get("description", ""),
    )

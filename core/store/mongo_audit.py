"""The MongoDB audit repository over the ``audit`` collection: append, list newest first.

``_id`` is a driver-made ObjectId (its counter keeps one process's insertion order within a
second); the entry's own id is kept as ``id``. Free-form parts have their keys escaped.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING

from core.models.audit import AuditEntry
from core.store.mongo_errors import Errors
from core.store.mongo_keys import escape_keys, unescape_keys

COLLECTION = "audit"
_NEWEST = [("at", DESCENDING), ("_id", DESCENDING)]
_FREE_FORM = ("place", "subject", "details")
INDEXES: tuple[tuple[list[tuple[str, int]], dict[str, Any]], ...] = (
    (_NEWEST, {"name": "at"}),
    ([("user", ASCENDING), *_NEWEST], {"name": "user"}),
)


async def create_indexes(db: Any) -> None:
    for keys, options in INDEXES:
        await db[COLLECTION].create_index(keys, **options)


class MongoAudit:
    """``AuditRepository`` on MongoDB; ``errors`` turns driver errors into StoreError."""

    def __init__(self, collection: Any, errors: Errors) -> None:
        self._coll = collection
        self._errors = errors

    async def insert(self, entry: AuditEntry) -> None:
        doc = entry.to_doc()
        for name in _FREE_FORM:
            doc[name] = escape_keys(doc[name])
        with self._errors():
            await self._coll.insert_one(doc)

    async def list(self, limit: int = 50, user: str | None = None) -> list[AuditEntry]:
        cursor = self._coll.find({} if user is None else {"user": user}).sort(_NEWEST)
        if limit > 0:
            cursor = cursor.limit(limit)
        with self._errors():
            docs = await cursor.to_list(length=None)
        return [_from_mongo(doc) for doc in docs]


def _from_mongo(doc: dict[str, Any]) -> AuditEntry:
    fields = {key: value for key, value in doc.items() if key != "_id"}
    for name in _FREE_FORM:
        fields[name] = unescape_keys(fields.get(name))
    return AuditEntry.from_doc(fields)

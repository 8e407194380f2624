"""The MongoDB approval repository over the ``approvals`` collection.

Documents are ``Approval.to_doc()`` with ``_id`` in place of ``id``; timestamps are fixed-width
UTC text (string order is time order). The free-form parts (schema, response, places, subject)
have their keys escaped (mongo_keys). ``replace`` filters on the expected status: the CAS.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from core.models.approval import Approval, ApprovalStatus
from core.store.base import StoreError
from core.store.mongo_errors import Errors
from core.store.mongo_keys import escape_keys, unescape_keys
from core.store.sqlite_kv import stamp

COLLECTION = "approvals"
_NEWEST = [("created_at", DESCENDING), ("_id", DESCENDING)]
_FREE_FORM = ("place", "schema", "response", "decided_from", "subject")
INDEXES: tuple[tuple[list[tuple[str, int]], dict[str, Any]], ...] = (
    (_NEWEST, {"name": "created"}),
    ([("status", ASCENDING), *_NEWEST], {"name": "status"}),
    ([("status", ASCENDING), ("expires_at", ASCENDING)], {"name": "expiry"}),
)


async def create_indexes(db: Any) -> None:
    for keys, options in INDEXES:
        await db[COLLECTION].create_index(keys, **options)


class MongoApprovals:
    """``ApprovalRepository`` on MongoDB; ``errors`` turns driver errors into StoreError."""

    def __init__(self, collection: Any, errors: Errors) -> None:
        self._coll = collection
        self._errors = errors

    async def insert(self, approval: Approval) -> None:
        with self._errors():
            try:
                await self._coll.insert_one(_to_mongo(approval))
            except DuplicateKeyError as exc:
                raise StoreError(f"approval {approval.id} already exists") from exc

    async def get(self, approval_id: str) -> Approval | None:
        with self._errors():
            doc = await self._coll.find_one({"_id": approval_id})
        return None if doc is None else _from_mongo(doc)

    async def replace(self, approval: Approval, *, expected_status: ApprovalStatus) -> bool:
        fields = _to_mongo(approval)
        del fields["_id"]
        with self._errors():
            result = await self._coll.update_one(
                {"_id": approval.id, "status": str(expected_status)}, {"$set": fields}
            )
        return bool(result.matched_count == 1)

    async def list_expired(self, now: datetime, limit: int = 100) -> list[Approval]:
        found = {
            "status": str(ApprovalStatus.PENDING),
            "expires_at": {"$ne": None, "$lte": stamp(now)},
        }
        return await self._find(found, [("expires_at", ASCENDING), ("_id", ASCENDING)], limit)

    async def _find(
        self, found: dict[str, Any], order: list[tuple[str, int]], limit: int
    ) -> list[Approval]:
        cursor = self._coll.find(found).sort(order)
        if limit > 0:
            cursor = cursor.limit(limit)
        with self._errors():
            docs = await cursor.to_list(length=None)
        return [_from_mongo(doc) for doc in docs]

    async def list(self, status: ApprovalStatus | None = None, limit: int = 50) -> list[Approval]:
        found = {} if status is None else {"status": str(status)}
        return await self._find(found, _NEWEST, limit)


def _to_mongo(approval: Approval) -> dict[str, Any]:
    doc = approval.to_doc()
    doc["_id"] = doc.pop("id")
    for name in _FREE_FORM:
        doc[name] = escape_keys(doc[name])
    return doc


def _from_mongo(doc: dict[str, Any]) -> Approval:
    fields = dict(doc)
    fields["id"] = fields.pop("_id")
    for name in _FREE_FORM:
        fields[name] = unescape_keys(fields.get(name))
    return Approval.from_doc(fields)

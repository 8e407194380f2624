"""``ExecutionRepository`` over MongoDB's ``executions`` collection: documents, filters, claims."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from core.models import COMPLETED, Execution, ExecutionStatus
from core.models.execution import isoformat as stamp
from core.store.base import DuplicateExecution, ExecutionQuery
from core.store.mongo_errors import store_errors
from core.store.mongo_keys import escape_keys, unescape_keys

NEWEST_FIRST = [("start_timestamp", DESCENDING), ("_id", DESCENDING)]
OLDEST_FIRST = [("start_timestamp", ASCENDING), ("_id", ASCENDING)]
COMPLETED_STATUSES = sorted(str(s) for s in COMPLETED)
# The fields of Execution.to_doc() that hold arbitrary JSON; their keys are escaped.
USER_DATA = ("parameters", "result", "context")


class MongoExecutions:
    """``ExecutionRepository`` over the ``executions`` collection."""

    def __init__(self, collection: Any, where: str) -> None:
        self._coll = collection
        self._where = where

    async def insert(self, execution: Execution) -> None:
        with store_errors(self._where):
            try:
                await self._coll.insert_one(execution_to_mongo(execution))
            except DuplicateKeyError as exc:
                raise DuplicateExecution(f"execution {execution.id} already exists") from exc

    async def get(self, execution_id: str) -> Execution | None:
        with store_errors(self._where):
            doc = await self._coll.find_one({"_id": execution_id})
        return None if doc is None else execution_from_mongo(doc)

    async def list(self, query: ExecutionQuery) -> list[Execution]:
        order = OLDEST_FIRST if query.oldest_first else NEWEST_FIRST
        cursor = self._coll.find(execution_filter(query)).sort(order).skip(max(query.offset, 0))
        if query.limit > 0:
            cursor = cursor.limit(query.limit)
        with store_errors(self._where):
            docs = await cursor.to_list(length=None)
        return [execution_from_mongo(doc) for doc in docs]

    async def count(self, query: ExecutionQuery) -> int:
        with store_errors(self._where):
            return int(await self._coll.count_documents(execution_filter(query)))

    async def replace(self, execution: Execution, *, expected_status: ExecutionStatus) -> bool:
        fields = execution_to_mongo(execution)
        del fields["_id"]
        with store_errors(self._where):
            result = await self._coll.update_one(
                {"_id": execution.id, "status": str(expected_status)}, {"$set": fields}
            )
        return bool(result.matched_count == 1)

    async def claim(self, owner: str, lease_until: datetime, now: datetime) -> Execution | None:
        claimable = {
            "status": str(ExecutionStatus.REQUESTED),
            "$or": [{"lease_expires": None}, {"lease_expires": {"$lt": stamp(now)}}],
        }
        with store_errors(self._where):
            doc = await self._coll.find_one_and_update(
                claimable,
                {"$set": {"owner": owner, "lease_expires": stamp(lease_until)}},
                sort=OLDEST_FIRST,
                return_document=ReturnDocument.AFTER,
            )
        return None if doc is None else execution_from_mongo(doc)

    async def renew_lease(self, execution_id: str, owner: str, lease_until: datetime) -> bool:
        with store_errors(self._where):
            result = await self._coll.update_one(
                {"_id": execution_id, "owner": owner},
                {"$set": {"lease_expires": stamp(lease_until)}},
            )
        return bool(result.matched_count == 1)

    async def delete_completed_before(self, cutoff: datetime) -> int:
        with store_errors(self._where):
            result = await self._coll.delete_many(
                {"status": {"$in": COMPLETED_STATUSES}, "end_timestamp": {"$lt": stamp(cutoff)}}
            )
        return int(result.deleted_count)


def execution_filter(query: ExecutionQuery) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if query.statuses:
        found["status"] = {"$in": [str(s) for s in query.statuses]}
    if query.action_ref is not None:
        found["action_ref"] = query.action_ref
    if query.user is not None:
        found["context.user"] = query.user
    if query.parent is not None:
        found["parent"] = query.parent
    if query.top_level:
        found["parent"] = None
    started: dict[str, Any] = {}
    if query.started_after is not None:
        started["$gt"] = stamp(query.started_after)
    if query.started_before is not None:
        started["$lt"] = stamp(query.started_before)
    if started:
        found["start_timestamp"] = started
    return found


def execution_to_mongo(execution: Execution) -> dict[str, Any]:
    doc = execution.to_doc()
    doc["_id"] = doc.pop("id")
    doc["start_timestamp"] = stamp(execution.start_timestamp)
    doc["end_timestamp"] = stamp(execution.end_timestamp)
    doc["lease_expires"] = stamp(execution.lease_expires)
    for name in USER_DATA:
        doc[name] = escape_keys(doc[name])
    return doc


def execution_from_mongo(doc: dict[str, Any]) -> Execution:
    fields = dict(doc)
    fields["id"] = fields.pop("_id")
    for name in USER_DATA:
        fields[name] = unescape_keys(fields.get(name))
    return Execution.from_doc(fields)

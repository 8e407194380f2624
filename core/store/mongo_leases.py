"""The MongoDB ``LeaseRepository`` (``leases``, ``_id`` = lease name) and ``OutboxRepository``
(``outbox``).

Taking a lease is two single-document writes, each atomic on its own: renew where we already
hold it, else take it where it has expired (an upsert, so the first holder creates it; the
unique ``_id`` makes a concurrent upsert fail instead of making a second holder).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from core.models.lease import Lease, OutboxItem
from core.store.sqlite_kv import stamp

Errors = Callable[[], AbstractContextManager[None]]
_OLDEST = [("created_at", ASCENDING), ("_id", ASCENDING)]


async def create_indexes(db: Any) -> None:
    await db["outbox"].create_index(
        [("channel", ASCENDING), ("claim_expires", ASCENDING), *_OLDEST], name="channel"
    )


class MongoLeases:
    def __init__(self, collection: Any, errors: Errors) -> None:
        self._coll = collection
        self._errors = errors

    async def acquire(self, name: str, holder: str, until: datetime, now: datetime) -> bool:
        with self._errors():
            renewed = await self._coll.update_one(
                {"_id": name, "holder": holder}, {"$set": {"expires": stamp(until)}}
            )
            if renewed.matched_count == 1:
                return True
            try:
                await self._coll.update_one(
                    {"_id": name, "expires": {"$lt": stamp(now)}},
                    {"$set": {"holder": holder, "expires": stamp(until),
                              "acquired_at": stamp(now)}},
                    upsert=True,
                )  # fmt: skip
            except DuplicateKeyError:
                return False  # it exists and is live: somebody else holds it
        return True

    async def release(self, name: str, holder: str) -> bool:
        with self._errors():
            result = await self._coll.delete_one({"_id": name, "holder": holder})
        return bool(result.deleted_count == 1)

    async def list(self) -> list[Lease]:
        cursor = self._coll.find({}).sort([("_id", ASCENDING)])
        with self._errors():
            docs = await cursor.to_list(length=None)
        return [Lease.from_doc({**doc, "name": doc["_id"]}) for doc in docs]


class MongoOutbox:
    def __init__(self, collection: Any, errors: Errors) -> None:
        self._coll = collection
        self._errors = errors

    async def put(self, item: OutboxItem) -> bool:
        doc = item.to_doc()
        doc["_id"] = doc.pop("id")
        doc["created_at"] = stamp(item.created_at)
        doc["claim_expires"] = None
        with self._errors():
            try:
                await self._coll.insert_one(doc)
            except DuplicateKeyError:
                return False
        return True

    async def claim(
        self, channel: str, holder: str, until: datetime, now: datetime, limit: int = 50
    ) -> list[OutboxItem]:
        free = {
            "channel": channel,
            "$or": [{"claim_expires": None}, {"claim_expires": {"$lt": stamp(now)}}],
        }
        claimed: list[OutboxItem] = []
        with self._errors():
            while len(claimed) < limit:
                doc = await self._coll.find_one_and_update(
                    free,
                    {"$set": {"holder": holder, "claim_expires": stamp(until)}},
                    sort=_OLDEST,
                    return_document=ReturnDocument.AFTER,
                )
                if doc is None:
                    break
                claimed.append(OutboxItem.from_doc({**doc, "id": doc["_id"]}))
        return claimed

    async def done(self, item_id: str) -> bool:
        with self._errors():
            result = await self._coll.delete_one({"_id": item_id})
        return bool(result.deleted_count == 1)

    async def purge(self, before: datetime) -> dict[str, int]:
        old = {"created_at": {"$lt": stamp(before)}}
        removed: dict[str, int] = {}
        with self._errors():
            for channel in await self._coll.distinct("channel", old):
                result = await self._coll.delete_many({**old, "channel": channel})
                if result.deleted_count:
                    removed[str(channel)] = int(result.deleted_count)
        return removed

    async def count(self, channel: str | None = None) -> int:
        with self._errors():
            return int(
                await self._coll.count_documents({} if channel is None else {"channel": channel})
            )

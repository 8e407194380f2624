"""The MongoDB workflow state repository: ``workflow_heads`` and ``workflow_records``.

MongoDB has no multi-document transaction outside a replica set, so a save is ordered: first
the records, stamped with the new version and a nonce of this save; then the head's
compare-and-set on ``version``, which records the nonce. Loading keeps records at or below the
head's version, and at the head's own version only those with its nonce, so the records of a
save that crashed or lost the race are never read. A losing save removes its own records; the
winner of a version removes other saves' records at its version and at the one before. State
documents are stored as JSON text: they are read back whole, never queried, and keep keys
MongoDB would refuse (``.``, ``$``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from core.store.base import (
    DuplicateExecution,
    ExecutionRepository,
    StateWrite,
    StepWrite,
    StepWritten,
    StoredWorkflow,
    WorkflowRecord,
)

HEADS, RECORDS = "workflow_heads", "workflow_records"
Errors = Callable[[], AbstractContextManager[None]]


async def create_indexes(db: Any) -> None:
    await db[RECORDS].create_index([("wf", ASCENDING), ("v", ASCENDING)], name="workflow_version")


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


class MongoWorkflows:
    def __init__(
        self, heads: Any, records: Any, errors: Errors, executions: ExecutionRepository
    ) -> None:
        self._heads = heads
        self._records = records
        self._errors = errors
        self._executions = executions

    async def create(
        self, workflow_id: str, head: dict[str, Any], records: Sequence[WorkflowRecord]
    ) -> bool:
        nonce = uuid.uuid4().hex
        with self._errors():
            if await self._heads.find_one({"_id": workflow_id}, {"_id": 1}) is not None:
                return False
            await self._write_records(workflow_id, 1, nonce, records)
            try:
                await self._heads.insert_one(
                    {"_id": workflow_id, "version": 1, "nonce": nonce, "head": _json(head)}
                )
            except DuplicateKeyError:
                await self._records.delete_many({"wf": workflow_id, "n": nonce})
                return False
        return True

    async def load(self, workflow_id: str) -> StoredWorkflow | None:
        with self._errors():
            head = await self._heads.find_one({"_id": workflow_id})
            if head is None:
                return None
            version, nonce = int(head["version"]), head.get("nonce")
            cursor = self._records.find({"wf": workflow_id, "v": {"$lte": version}})
            docs = await cursor.sort([("v", ASCENDING)]).to_list(length=None)
        newest: dict[tuple[str, str], str] = {}
        for doc in docs:
            if doc["v"] == version and doc.get("n") != nonce:
                continue  # written by a save that did not win this version
            newest[(doc["k"], doc["key"])] = doc["doc"]
        records = tuple(WorkflowRecord(k, key, json.loads(d)) for (k, key), d in newest.items())
        return StoredWorkflow(workflow_id, version, json.loads(head["head"]), records)

    async def save(self, workflow_id: str, state: StateWrite) -> bool:
        nonce = uuid.uuid4().hex
        expected_version, version = state.expected_version, state.expected_version + 1
        with self._errors():
            current = await self._heads.find_one({"_id": workflow_id}, {"version": 1})
            if current is None or current["version"] != expected_version:
                return False  # lost already: write nothing
            await self._write_records(workflow_id, version, nonce, state.records)
            before = await self._heads.find_one_and_update(
                {"_id": workflow_id, "version": expected_version},
                {"$set": {"version": version, "nonce": nonce, "head": _json(state.head)}},
                projection={"nonce": 1},
                return_document=ReturnDocument.BEFORE,
            )
            if before is None:
                await self._records.delete_many({"wf": workflow_id, "n": nonce})
                return False
            # Won: drop records of saves that lost this version or crashed at the previous one.
            await self._records.delete_many({"wf": workflow_id, "$or": [
                {"v": version, "n": {"$ne": nonce}},
                {"v": expected_version, "n": {"$ne": before.get("nonce")}},
            ]})  # fmt: skip
        return True

    async def save_step(self, workflow_id: str, step: StepWrite) -> StepWritten:
        """No transaction here: the ends, the state, then the children (see the protocol)."""
        ended: set[str] = set()
        for end in step.completed:
            if await self._executions.replace(end.execution, expected_status=end.expected_status):
                ended.add(end.execution.id)
        if len(ended) < len(step.completed):
            return StepWritten(False, frozenset(ended))
        if step.expected_version == 0:
            saved = await self.create(workflow_id, step.head, step.records)
        else:
            saved = await self.save(workflow_id, step)
        if not saved:
            return StepWritten(False, frozenset(ended))
        inserted: set[str] = set()
        for child in step.children:
            try:
                await self._executions.insert(child)
            except DuplicateExecution:
                continue  # requested before a crash: left as it is
            inserted.add(child.id)
        return StepWritten(True, frozenset(ended), frozenset(inserted))

    async def _write_records(
        self, workflow_id: str, version: int, nonce: str, records: Sequence[WorkflowRecord]
    ) -> None:
        docs = [
            {"_id": f"{workflow_id}|{r.kind}|{r.key}|{version}|{nonce}", "wf": workflow_id,
             "k": r.kind, "key": r.key, "v": version, "n": nonce, "doc": _json(r.doc)}
            for r in records
        ]  # fmt: skip
        if docs:
            await self._records.insert_many(docs, ordered=False)

    async def compact(self, workflow_id: str) -> int:
        stored = await self.load(workflow_id)
        if stored is None:
            return 0
        with self._errors():
            docs = await self._records.find({"wf": workflow_id}, {"k": 1, "key": 1, "v": 1, "n": 1}
                                            ).to_list(length=None)  # fmt: skip
            newest: dict[tuple[str, str], tuple[int, str]] = {}
            for doc in docs:
                if doc["v"] > stored.version:
                    continue
                key = (doc["k"], doc["key"])
                if key not in newest or doc["v"] >= newest[key][0]:
                    newest[key] = (doc["v"], doc["_id"])
            keep = {found for _, found in newest.values()}
            stale = [doc["_id"] for doc in docs if doc["_id"] not in keep]
            if not stale:
                return 0
            result = await self._records.delete_many({"_id": {"$in": stale}})
        return int(result.deleted_count)

    async def delete(self, workflow_ids: Sequence[str]) -> int:
        ids = list(workflow_ids)
        if not ids:
            return 0
        with self._errors():
            await self._records.delete_many({"wf": {"$in": ids}})
            result = await self._heads.delete_many({"_id": {"$in": ids}})
        return int(result.deleted_count)

"""The MongoDB trigger instance and rule enforcement repositories.

Documents are the models' ``to_doc()`` with ``_id`` in place of ``id``; their timestamps are
already fixed-width UTC text, so string order is time order. Payload keys are escaped
(mongo_keys), since payloads are arbitrary JSON. The unique indexes are the idempotency
guarantees: one instance per (trigger, dedupe_key), one enforcement per (rule, instance).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from core.models import Execution, RuleEnforcement, TriggerInstance, TriggerInstanceStatus
from core.models.trigger_instance import FINISHED
from core.store.base import DuplicateExecution, ExecutionRepository, Fired, StoreError
from core.store.mongo_keys import escape_keys, unescape_keys
from core.store.sqlite_kv import stamp

logger = logging.getLogger(__name__)

INSTANCES = "trigger_instances"
ENFORCEMENTS = "rule_enforcements"
Index = tuple[list[tuple[str, int]], dict[str, Any]]
Errors = Callable[[], AbstractContextManager[None]]

_T = TriggerInstanceStatus
_INSTANCE_NEWEST = [("occurrence_time", DESCENDING), ("_id", DESCENDING)]
_INSTANCE_OLDEST = [("occurrence_time", ASCENDING), ("_id", ASCENDING)]
_ENFORCEMENT_NEWEST = [("enforced_at", DESCENDING), ("_id", DESCENDING)]
_FINISHED = sorted(str(s) for s in FINISHED)

INSTANCE_INDEXES: tuple[Index, ...] = (
    # Partial, so instances without a dedupe key never collide with each other.
    (
        [("trigger", ASCENDING), ("dedupe_key", ASCENDING)],
        {
            "name": "dedupe",
            "unique": True,
            "partialFilterExpression": {"dedupe_key": {"$type": "string"}},
        },
    ),
    (_INSTANCE_NEWEST, {"name": "occurred"}),
    ([("trigger", ASCENDING), *_INSTANCE_NEWEST], {"name": "trigger"}),
    ([("status", ASCENDING), *_INSTANCE_OLDEST], {"name": "status"}),
)
ENFORCEMENT_INDEXES: tuple[Index, ...] = (
    (
        [("rule_ref", ASCENDING), ("trigger_instance_id", ASCENDING)],
        {"name": "rule_instance", "unique": True},
    ),
    (_ENFORCEMENT_NEWEST, {"name": "enforced"}),
    ([("rule_ref", ASCENDING), *_ENFORCEMENT_NEWEST], {"name": "rule"}),
    ([("trigger_instance_id", ASCENDING), *_ENFORCEMENT_NEWEST], {"name": "instance"}),
)


async def create_indexes(db: Any) -> None:
    for collection, indexes in ((INSTANCES, INSTANCE_INDEXES), (ENFORCEMENTS, ENFORCEMENT_INDEXES)):
        for keys, options in indexes:
            await db[collection].create_index(keys, **options)


class MongoTriggerInstances:
    """``TriggerInstanceRepository``; ``errors`` turns driver errors into StoreError."""

    def __init__(
        self,
        collection: Any,
        errors: Errors,
        enforcements: MongoRuleEnforcements,
        executions: ExecutionRepository,
    ) -> None:
        self._coll = collection
        self._errors = errors
        self._enforcements = enforcements
        self._executions = executions
        # Set by the store: rule-fired executions are sealed like every other execution.
        self.seal: Callable[[Execution], Execution] = lambda execution: execution

    async def insert(self, instance: TriggerInstance) -> bool:
        return await _insert(self._coll, self._errors, _instance_to_mongo(instance))

    async def get(self, instance_id: str) -> TriggerInstance | None:
        with self._errors():
            doc = await self._coll.find_one({"_id": instance_id})
        return None if doc is None else _instance_from_mongo(doc)

    async def list_unfinished(self, limit: int = 100) -> list[TriggerInstance]:
        unfinished = {"status": {"$in": [str(_T.PENDING), str(_T.PROCESSING)]}}
        docs = await _find(self._coll, self._errors, unfinished, _INSTANCE_OLDEST, limit, 0)
        return [_instance_from_mongo(doc) for doc in docs]

    async def list(
        self,
        trigger: str | None = None,
        status: TriggerInstanceStatus | None = None,
        limit: int = 50,
        offset: int = 0,
        *,
        after: datetime | None = None,
        before: datetime | None = None,
    ) -> list[TriggerInstance]:
        found = _instance_filter(trigger, status, after, before)
        docs = await _find(self._coll, self._errors, found, _INSTANCE_NEWEST, limit, offset)
        return [_instance_from_mongo(doc) for doc in docs]

    async def count(
        self,
        trigger: str | None = None,
        status: TriggerInstanceStatus | None = None,
        *,
        after: datetime | None = None,
        before: datetime | None = None,
    ) -> int:
        with self._errors():
            found = _instance_filter(trigger, status, after, before)
            return int(await self._coll.count_documents(found))

    async def replace(
        self, instance: TriggerInstance, *, expected_status: TriggerInstanceStatus
    ) -> bool:
        fields = _instance_to_mongo(instance)
        del fields["_id"]
        with self._errors():
            result = await self._coll.update_one(
                {"_id": instance.id, "status": str(expected_status)}, {"$set": fields}
            )
        return bool(result.matched_count == 1)

    async def settle(
        self,
        instance: TriggerInstance,
        *,
        expected_status: TriggerInstanceStatus,
        fired: Sequence[Fired],
    ) -> tuple[Execution, ...] | None:
        """No multi-document transaction (a standalone server has none): execution, then
        enforcement, then the instance, each idempotent (derived execution ids), so a crash
        anywhere leaves the instance unfinished and its recovery adds only what is missing.
        An enforcement is never stored before its execution."""
        stored: list[Execution] = []
        for rule in fired:
            if rule.execution is not None:
                try:
                    await self._executions.insert(self.seal(rule.execution))
                    stored.append(rule.execution)
                except DuplicateExecution:
                    pass  # stored by an earlier attempt (or a racing process): not ours to start
            await self._enforcements.insert(rule.enforcement)
        if not await self.replace(instance, expected_status=expected_status):
            return None
        return tuple(stored)

    async def insert_settled(
        self, instance: TriggerInstance, fired: Sequence[Fired]
    ) -> tuple[Execution, ...] | None:
        """No transaction: the instance as it arrived, then the settle's ordered steps. Once
        the insert succeeded the instance is durable: a settle that fails after it leaves it
        unfinished for the sweep or ``recover`` (as a crash would), and this reports it stored
        with nothing to start (raising would tell a webhook sender "not stored, retry", and
        its retry would be processed next to this one)."""
        received = instance.as_received()
        if not await self.insert(received):
            return None
        try:
            return await self.settle(instance, expected_status=received.status, fired=fired)
        except StoreError as exc:
            logger.warning("trigger instance %s stored, its settle left to recovery: %s",
                           instance.id, exc)  # fmt: skip
            return ()

    async def delete_before(self, cutoff: datetime) -> int:
        old = {"status": {"$in": _FINISHED}, "occurrence_time": {"$lt": stamp(cutoff)}}
        with self._errors():
            result = await self._coll.delete_many(old)
        return int(result.deleted_count)


class MongoRuleEnforcements:
    """``RuleEnforcementRepository``; ``errors`` turns driver errors into StoreError."""

    def __init__(self, collection: Any, errors: Errors) -> None:
        self._coll = collection
        self._errors = errors

    async def insert(self, enforcement: RuleEnforcement) -> bool:
        return await _insert(self._coll, self._errors, _with_mongo_id(enforcement.to_doc()))

    async def get(self, enforcement_id: str) -> RuleEnforcement | None:
        with self._errors():
            doc = await self._coll.find_one({"_id": enforcement_id})
        return None if doc is None else RuleEnforcement.from_doc(_without_mongo_id(doc))

    async def delete_before(self, cutoff: datetime) -> int:
        with self._errors():
            result = await self._coll.delete_many({"enforced_at": {"$lt": stamp(cutoff)}})
        return int(result.deleted_count)

    async def list(
        self,
        rule_ref: str | None = None,
        trigger_instance_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[RuleEnforcement]:
        found = _filter(rule_ref=rule_ref, trigger_instance_id=trigger_instance_id)
        docs = await _find(self._coll, self._errors, found, _ENFORCEMENT_NEWEST, limit, offset)
        return [RuleEnforcement.from_doc(_without_mongo_id(doc)) for doc in docs]

    async def count(
        self, rule_ref: str | None = None, trigger_instance_id: str | None = None
    ) -> int:
        found = _filter(rule_ref=rule_ref, trigger_instance_id=trigger_instance_id)
        with self._errors():
            return int(await self._coll.count_documents(found))


async def _insert(coll: Any, errors: Errors, doc: dict[str, Any]) -> bool:
    with errors():
        try:
            await coll.insert_one(doc)
        except DuplicateKeyError:
            return False
    return True


async def _find(
    coll: Any,
    errors: Errors,
    found: dict[str, Any],
    order: list[tuple[str, int]],
    limit: int,
    offset: int,
) -> list[dict[str, Any]]:
    cursor = coll.find(found).sort(order).skip(max(offset, 0))
    if limit > 0:
        cursor = cursor.limit(limit)
    with errors():
        docs: list[dict[str, Any]] = await cursor.to_list(length=None)
    return docs


def _instance_filter(
    trigger: str | None,
    status: TriggerInstanceStatus | None,
    after: datetime | None,
    before: datetime | None,
) -> dict[str, Any]:
    found = _filter(trigger=trigger, status=None if status is None else str(status))
    bounds = {op: stamp(ts) for op, ts in (("$gt", after), ("$lt", before)) if ts is not None}
    if bounds:
        found["occurrence_time"] = bounds
    return found


def _filter(**fields: str | None) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


def _with_mongo_id(doc: dict[str, Any]) -> dict[str, Any]:
    doc["_id"] = doc.pop("id")
    return doc


def _without_mongo_id(doc: dict[str, Any]) -> dict[str, Any]:
    fields = dict(doc)
    fields["id"] = fields.pop("_id")
    return fields


def _instance_to_mongo(instance: TriggerInstance) -> dict[str, Any]:
    doc = _with_mongo_id(instance.to_doc())
    doc["payload"] = escape_keys(doc["payload"])
    return doc


def _instance_from_mongo(doc: dict[str, Any]) -> TriggerInstance:
    fields = _without_mongo_id(doc)
    fields["payload"] = unescape_keys(fields.get("payload"))
    return TriggerInstance.from_doc(fields)


# For the trace repository, which reads instances by trace id.
instance_from_mongo = _instance_from_mongo

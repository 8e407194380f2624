"""The MongoDB ``RuleStateRepository`` over the ``rule_states`` collection (``_id`` = rule ref)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING

from core.models.execution import utcnow
from core.models.rule_state import RuleState
from core.store.mongo_errors import Errors

COLLECTION = "rule_states"


class MongoRuleStates:
    """``RuleStateRepository`` on MongoDB; ``errors`` turns driver errors into StoreError."""

    def __init__(self, collection: Any, errors: Errors) -> None:
        self._coll = collection
        self._errors = errors

    async def set(self, ref: str, enabled: bool, by_user: str) -> RuleState:
        state = RuleState(ref=ref, enabled=enabled, updated_at=utcnow(), updated_by=by_user)
        doc = state.to_doc()
        doc["_id"] = doc.pop("ref")
        with self._errors():
            await self._coll.replace_one({"_id": ref}, doc, upsert=True)
        return state

    async def list(self) -> list[RuleState]:
        cursor = self._coll.find({}).sort([("_id", ASCENDING)])
        with self._errors():
            docs = await cursor.to_list(length=None)
        return [RuleState.from_doc({**doc, "ref": doc["_id"]}) for doc in docs]

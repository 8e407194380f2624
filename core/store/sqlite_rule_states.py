"""The SQLite ``RuleStateRepository`` over the ``rule_states`` table (sqlite_schema v5)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from core.models.execution import utcnow
from core.models.rule_state import RuleState
from core.store.sqlite_db import Database, fetch_all
from core.store.sqlite_kv import stamp

_UPSERT = "INSERT OR REPLACE INTO rule_states (ref, enabled, updated_at, doc) VALUES (?, ?, ?, ?)"
_LIST = "SELECT doc FROM rule_states ORDER BY ref"


class SqliteRuleStates:
    """``RuleStateRepository`` on SQLite."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def set(self, ref: str, enabled: bool, by_user: str) -> RuleState:
        state = RuleState(ref=ref, enabled=enabled, updated_at=utcnow(), updated_by=by_user)
        row = (ref, int(enabled), stamp(state.updated_at), json.dumps(state.to_doc()))
        await self._db.write(_execute, _UPSERT, row)
        return state

    async def list(self) -> list[RuleState]:
        rows = await self._db.read(fetch_all, _LIST, ())
        return [RuleState.from_doc(json.loads(row[0])) for row in rows]


def _execute(conn: sqlite3.Connection, sql: str, args: Sequence[Any]) -> None:
    conn.execute(sql, args)

"""An execution's compare-and-set on SQLite updates only the columns a status change moves
(sqlite_execution_rows.replace_row), and still the whole row when another column changed."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from core.models import Execution, ExecutionStatus
from core.store import ExecutionQuery
from core.store.sqlite import SqliteStore
from core.store.sqlite_execution_rows import _NARROW_REPLACE

S = ExecutionStatus


def request(user: str = "alice") -> Execution:
    return Execution.request("core.local", "local-shell-cmd", {"cmd": "true"}, {"user": user})


async def test_a_status_change_updates_only_what_it_moves(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "cas.db")
    await store.open()
    seen: list[str] = []
    writer = store._db._writer._conn  # type: ignore[union-attr]
    loop_thread = threading.get_ident()
    writer.set_trace_callback(
        lambda sql: seen.append(sql) if threading.get_ident() == loop_thread else None
    )
    try:
        requested = request()
        await store.executions.insert(requested)
        running = requested.transition(S.RUNNING)
        assert await store.executions.replace(running, expected_status=S.REQUESTED)
        updates = [sql for sql in seen if sql.startswith("UPDATE")]
        assert len(updates) == 1 and updates[0].startswith(
            "UPDATE executions SET (status, end_timestamp, owner, lease_expires, doc) ="
        )
        assert await store.executions.get(requested.id) == running
        # A lost compare-and-set still loses (and changes nothing).
        stale = running.transition(S.SUCCEEDED, result={})
        assert not await store.executions.replace(stale, expected_status=S.REQUESTED)
        assert await store.executions.get(requested.id) == running
        done = running.transition(S.SUCCEEDED, result={"ok": True})
        assert await store.executions.replace(done, expected_status=S.RUNNING)
        succeeded = await store.executions.list(ExecutionQuery(statuses=(S.SUCCEEDED,)))
        assert [e.id for e in succeeded] == [requested.id]
    finally:
        await store.close()


async def test_a_change_of_another_column_is_stored_too(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "cas2.db")
    await store.open()
    try:
        requested = request("alice")
        await store.executions.insert(requested)
        # As when intake merges a context into a held request: the user column follows it.
        moved = requested.with_changes(
            status=S.SCHEDULED, context={**requested.context, "user": "bob"}
        )
        assert await store.executions.replace(moved, expected_status=S.REQUESTED)
        assert await store.executions.get(requested.id) == moved
        assert [e.id for e in await store.executions.list(ExecutionQuery(user="bob"))] == [
            requested.id
        ]
        assert await store.executions.list(ExecutionQuery(user="alice")) == []
    finally:
        await store.close()


async def test_the_narrow_update_finds_its_row_by_primary_key(tmp_path: Path) -> None:
    path = tmp_path / "plan.db"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    conn = sqlite3.connect(path)
    try:
        plan = conn.execute(f"EXPLAIN QUERY PLAN {_NARROW_REPLACE}", (None,) * 13).fetchall()
    finally:
        conn.close()
    assert "USING INDEX sqlite_autoindex_executions_1 (id=?)" in str(plan)

"""Where SQLite's group commit runs (core.store.sqlite_writer): a loop iteration's writes are one
transaction, committed on the event loop when that cannot wait, else on the writer thread —
under ``synchronous=full`` (fsync), for a batch larger than ``INLINE_MAX``, and for garbage
collection's bulk deletes. While another process holds the write lock, a batch waits for it on
the loop (retried from a timer, the loop free meanwhile) up to ``busy_timeout``. Every write's
coroutine still returns only after its COMMIT."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.models import Execution, ExecutionStatus
from core.store import ExecutionQuery
from core.store.sqlite import SqliteOptions, SqliteStore
from core.store.sqlite_db import StoreBusy
from core.store.sqlite_writer import INLINE_MAX


def request(n: int) -> Execution:
    return Execution.request("core.noop", "noop", {"n": n}, {"user": "alice"})


@asynccontextmanager
async def traced(
    path: Path, options: SqliteOptions
) -> AsyncIterator[tuple[SqliteStore, list[tuple[str, int]]]]:
    """An open store whose writer connection records (statement, thread id) of what it runs."""
    store = SqliteStore(path, options)
    await store.open()
    seen: list[tuple[str, int]] = []
    writer = store._db._writer._conn  # type: ignore[union-attr]
    writer.set_trace_callback(lambda sql: seen.append((sql, threading.get_ident())))
    try:
        yield store, seen
    finally:
        await store.close()


def threads_of(seen: list[tuple[str, int]], keep: Callable[[str], bool]) -> set[int]:
    return {thread for sql, thread in seen if keep(sql)}


def inserts(sql: str) -> bool:
    return sql.startswith("INSERT INTO executions")


def commits(sql: str) -> bool:
    return sql == "COMMIT"


async def test_writes_of_one_iteration_are_one_transaction_on_the_loop(tmp_path: Path) -> None:
    async with traced(tmp_path / "a.db", SqliteOptions()) as (store, seen):
        await asyncio.gather(*(store.executions.insert(request(n)) for n in range(10)))
        assert threads_of(seen, inserts) == {threading.get_ident()}
        # (The checkpointer may commit on this connection too, from its own thread.)
        assert sum(1 for sql, t in seen if commits(sql) and t == threading.get_ident()) == 1
        assert await store.executions.count(ExecutionQuery()) == 10


async def test_fsync_per_commit_stays_off_the_loop(tmp_path: Path) -> None:
    async with traced(tmp_path / "b.db", SqliteOptions(synchronous="full")) as (store, seen):
        await store.executions.insert(request(1))
        assert threading.get_ident() not in threads_of(
            seen, lambda sql: inserts(sql) or commits(sql)
        )


async def test_a_batch_past_the_inline_limit_goes_to_the_thread(tmp_path: Path) -> None:
    async with traced(tmp_path / "c.db", SqliteOptions()) as (store, seen):
        many = [store.executions.insert(request(n)) for n in range(INLINE_MAX + 1)]
        await asyncio.gather(*many)
        assert threading.get_ident() not in threads_of(seen, inserts)


async def test_a_batch_waits_for_another_writers_lock_on_the_loop_without_blocking_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "d.db"
    async with traced(path, SqliteOptions()) as (store, seen):
        blocker = sqlite3.connect(path, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")  # another process's write lock
            execution, later = request(1), request(2)
            pending = asyncio.create_task(store.executions.insert(execution))
            await asyncio.sleep(0.05)  # the loop is free meanwhile; the write waits its turn
            assert not pending.done()
            joining = asyncio.create_task(store.executions.insert(later))  # joins the batch
            await asyncio.sleep(0.02)
            assert not joining.done()
            assert not any(inserts(sql) for sql, _ in seen)
            blocker.execute("COMMIT")
            async with asyncio.timeout(10):
                await asyncio.gather(pending, joining)
        finally:
            blocker.close()
        # Committed on the loop, both in one transaction, once the lock was free.
        assert threads_of(seen, inserts) == {threading.get_ident()}
        on_loop = [sql for sql, t in seen if t == threading.get_ident()]
        done = [sql.split(" (")[0] for sql in on_loop if inserts(sql) or commits(sql)]
        assert done == ["INSERT INTO executions"] * 2 + ["COMMIT"]
        assert await store.executions.get(execution.id) == execution
        assert await store.executions.get(later.id) == later


async def test_a_lock_held_past_busy_timeout_fails_the_waiting_writes(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    async with traced(path, SqliteOptions(busy_timeout_ms=200)) as (store, seen):
        blocker = sqlite3.connect(path, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            loop = asyncio.get_running_loop()
            started = loop.time()
            ticks = 0

            async def tick() -> None:  # the loop keeps running while the write waits
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            ticker = asyncio.create_task(tick())
            try:
                async with asyncio.timeout(10):
                    with pytest.raises(StoreBusy, match="locked"):
                        await store.executions.insert(request(1))
            finally:
                ticker.cancel()
            assert loop.time() - started >= 0.2
            assert ticks >= 5  # ~20 if the machine is idle
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert not any(inserts(sql) for sql, _ in seen)
        # The lock free again, the next write commits on the loop.
        await store.executions.insert(request(2))
        assert threads_of(seen, inserts) == {threading.get_ident()}


async def test_the_loop_sets_the_busy_timeout_only_when_the_thread_changed_it(
    tmp_path: Path,
) -> None:
    async with traced(tmp_path / "g.db", SqliteOptions()) as (store, seen):
        for n in range(5):
            await store.executions.insert(request(n))
        assert [sql for sql, _ in seen if "busy_timeout" in sql] == ["PRAGMA busy_timeout = 0"]
        later = datetime.now(UTC) + timedelta(days=1)
        await store.executions.delete_completed_before(later)  # on the thread: back to 5000
        for n in range(5):
            await store.executions.insert(request(n + 5))
        assert [sql for sql, _ in seen if "busy_timeout" in sql] == [
            "PRAGMA busy_timeout = 0",
            "PRAGMA busy_timeout = 5000",
            "PRAGMA busy_timeout = 0",
        ]
        assert await store.executions.count(ExecutionQuery()) == 10


async def test_garbage_collection_deletes_never_run_on_the_loop(tmp_path: Path) -> None:
    async with traced(tmp_path / "e.db", SqliteOptions()) as (store, seen):
        running = request(1).transition(ExecutionStatus.RUNNING)
        done = running.transition(ExecutionStatus.SUCCEEDED, result={})
        await store.executions.insert(done)
        later = datetime.now(UTC) + timedelta(days=1)
        assert await store.executions.delete_completed_before(later) == 1
        await store.trigger_instances.delete_before(later)
        await store.rule_enforcements.delete_before(later)
        deletes = threads_of(seen, lambda sql: sql.startswith("DELETE"))
        assert deletes and threading.get_ident() not in deletes


def _insert_then(conn: sqlite3.Connection, value: str, fail: bool) -> str:
    conn.execute("INSERT INTO scratch (value) VALUES (?)", (value,))
    if fail:
        raise RuntimeError(f"{value}: a bug after the job's first statement")
    return value


async def test_a_job_that_raises_midway_leaves_nothing_and_the_others_commit(
    tmp_path: Path,
) -> None:
    """One writer job is one unit (``insert_settled``: the instance, its enforcements, its
    executions): if it raises after its first statement, none of it is committed with the rest
    of its batch, which commits as if it had never run."""
    async with traced(tmp_path / "a.db", SqliteOptions()) as (store, seen):
        db = store._db
        await db.write(lambda conn: conn.execute("CREATE TABLE scratch (value TEXT)"))
        seen.clear()
        results = await asyncio.gather(
            db.write(_insert_then, "a", False),
            db.write(_insert_then, "b", True),
            db.write(_insert_then, "c", False),
            db.write(_insert_then, "d", True),
            db.write(_insert_then, "e", False),
            return_exceptions=True,
        )
        assert results[0::2] == ["a", "c", "e"]
        assert [str(r) for r in results[1::2]] == [
            "b: a bug after the job's first statement",
            "d: a bug after the job's first statement",
        ]
        rows = await db.read(lambda conn: conn.execute("SELECT value FROM scratch").fetchall())
        assert sorted(v for (v,) in rows) == ["a", "c", "e"]
        assert sum(1 for sql, _ in seen if commits(sql)) == 1  # still one transaction

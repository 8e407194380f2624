"""The SQLite checkpointer (core.store.sqlite_writer.Checkpointer) starts the WAL over itself once
a checkpoint copied all of it, so the fsync of the WAL's new header is never the event loop's
COMMIT; and an idle store is left alone."""

from __future__ import annotations

import asyncio
import sqlite3
import struct
from pathlib import Path

from core.models import Execution
from core.store.sqlite import SqliteOptions, SqliteStore


def request(n: int) -> Execution:
    return Execution.request("core.noop", "noop", {"n": n}, {"user": "alice"})


def wal_generation(path: Path) -> int:
    """The WAL header's checkpoint sequence number: it grows each time the WAL starts over."""
    header = path.with_name(path.name + "-wal").read_bytes()[:32]
    return int(struct.unpack(">I", header[12:16])[0])


async def started_over(path: Path, since: int) -> int:
    for _ in range(500):  # up to 10 s
        if (now := wal_generation(path)) != since:
            return now
        await asyncio.sleep(0.02)
    raise AssertionError("the WAL never started over")


async def test_the_checkpointer_starts_the_wal_over_not_the_loops_commit(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    # Rounds 0.5 s apart: the checks right after one are done long before the next round.
    store = SqliteStore(path, SqliteOptions(checkpoint_interval=0.5))
    await store.open()
    probe = sqlite3.connect(path, isolation_level=None)
    try:
        await store.executions.insert(request(1))
        # Nobody writes now: the WAL starts over all the same (the checkpointer's own write).
        generation = await started_over(path, wal_generation(path))
        # The loop's next commits append to that WAL; none of them starts it over.
        for n in range(5):
            await store.executions.insert(request(n + 2))
            assert wal_generation(path) == generation
        # It happens again after the next checkpoint, still without any write of ours.
        generation = await started_over(path, generation)
        # Idle: no more writes of its own (only its own page would be left to copy). The new
        # header is in the file a moment before its commit ends: let that commit end first.
        await asyncio.sleep(0.05)
        (before,) = probe.execute("PRAGMA data_version").fetchone()
        await asyncio.sleep(1.1)  # two rounds
        assert probe.execute("PRAGMA data_version").fetchone() == (before,)
        assert wal_generation(path) == generation
    finally:
        probe.close()
        await store.close()

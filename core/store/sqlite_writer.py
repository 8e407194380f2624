"""The SQLite store's two background threads: the writer (group commit) and the checkpointer.

Writes are group-committed: the writes submitted during one iteration of the event loop are
one batch, one ``BEGIN IMMEDIATE … COMMIT``; a write's coroutine returns only after that COMMIT.
A batch runs on the loop itself when that is cheap and cannot wait: ``synchronous=NORMAL`` (a
COMMIT writes to the OS, no fsync), the writer thread idle, at most ``INLINE_MAX`` writes, no
bulk write (a GC delete of many rows) among them, and the write lock free at once
(``busy_timeout`` 0 for that attempt). Otherwise it goes to the writer thread, which waits for
other processes' locks and fsyncs (``synchronous=FULL``) off the loop. Why on the loop when it
can: on the thread, every SQLite call hands the GIL back and forth with the loop, and each
batch costs the thread a wakeup and the loop another (bench/webhooks.py, back to back: POST →
completed p50 at 100/s 1.6-3.0 → 1.5 ms, and the writer thread's wakeups gone: 1.75 → 1.48 ms
CPU per event at that rate; at 2,500/s offered the same throughput and CPU per event). ~100 µs
per insert (the row plus six B-trees); the numbers against writing every write on the loop,
one by one, are in ``bench/store.py``.

Auto-checkpointing is off because a checkpoint inside a commit stalled the loop 6-8 ms; a
second thread with its own connection runs ``PRAGMA wal_checkpoint(PASSIVE)`` periodically, and
``RESTART`` when a steady stream of writes has kept the WAL from ever being reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from core.store.base import StoreError

logger = logging.getLogger(__name__)

# Past this many WAL pages (16 MiB) a RESTART checkpoint forces the next write to reset the WAL.
RESTART_FRAMES = 4096
# RESTART makes writers wait; give up quickly and retry next round rather than stall them.
RESTART_BUSY_TIMEOUT_MS = 100
MAX_BATCH = 256
# Most writes one loop iteration may commit on the loop itself (see the module docstring).
INLINE_MAX = 256

T = TypeVar("T")


class _Job(NamedTuple):
    run: Callable[[sqlite3.Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    bulk: bool  # may touch many rows (a GC delete): never on the loop


class _Outcome(NamedTuple):
    ok: bool
    value: Any  # the result, or the exception when not ok


class Writer:
    """The one thread that writes: each batch of queued jobs is one BEGIN IMMEDIATE … COMMIT."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path | str, *, inline: bool, busy_timeout_ms: int
    ) -> None:
        self._conn = conn
        self._inline = inline  # batches may run on the loop (synchronous=NORMAL)
        self._busy_timeout_ms = int(busy_timeout_ms)
        # Held by whoever uses the connection: the thread for a batch, the loop for one.
        self._using = threading.Lock()
        self._queue: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        self._stopped = False
        # Per event loop, the jobs submitted during its current iteration (see ``_hand_over``).
        self._ticks: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        self._thread = threading.Thread(
            target=self._main, name=f"sqlite-writer {path}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def submit(
        self, run: Callable[[sqlite3.Connection], T], *, bulk: bool = False
    ) -> asyncio.Future[T]:
        if self._stopped:
            raise StoreError("SQLite store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        tick = self._ticks.get(loop)
        if tick is None:
            tick = self._ticks[loop] = []
            loop.call_soon(self._hand_over, loop)
        tick.append(_Job(run, loop, future, bulk))
        return future

    def _hand_over(self, loop: asyncio.AbstractEventLoop) -> None:
        """Commit what ``loop`` submitted since the last hand-over, here if that is cheap,
        else queue it to the thread as one item."""
        tick = self._ticks.pop(loop, None)
        if tick and not self._commit_here(tick):
            self._queue.put(tick)

    def _commit_here(self, batch: list[_Job]) -> bool:
        """Run ``batch`` on the loop; False (nothing done) when it must go to the thread."""
        if not self._inline or len(batch) > INLINE_MAX or any(job.bulk for job in batch):
            return False
        if not self._using.acquire(blocking=False):
            return False
        try:
            if not self._begin_now():
                return False  # another process writes (or the file fails): the thread's turn
            outcomes = self._run(batch)
        finally:
            self._using.release()
        for job, outcome in zip(batch, outcomes, strict=True):
            _resolve(job.future, outcome)
        return True

    def _begin_now(self) -> bool:
        """BEGIN IMMEDIATE without waiting for the lock; the rest of the batch runs with the
        configured busy timeout, as on the thread."""
        try:
            self._conn.execute("PRAGMA busy_timeout = 0")
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error:
            return False
        finally:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        return True

    def stop(self) -> None:
        """Finish the queued jobs, then close the connection."""
        self._stopped = True
        for loop in list(self._ticks):  # submitted, not yet handed over
            self._hand_over(loop)
        self._queue.put(None)
        self._thread.join()

    def _main(self) -> None:
        try:
            while (batch := self._next_batch()) is not None:
                with self._using:
                    outcomes = self._commit(batch)
                self._settle(batch, outcomes)
        finally:
            self._conn.close()

    def _next_batch(self) -> list[_Job] | None:
        batch: list[_Job] = []
        item = self._queue.get()
        while item is not None:
            batch += item
            if len(batch) >= MAX_BATCH:  # one hand-over may go past it; never split it
                return batch
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch
        # Stop requested: run what is left; the caller sees None on the next call.
        if batch:
            self._queue.put(None)
            return batch
        return None

    def _commit(self, batch: list[_Job]) -> list[_Outcome]:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except Exception as exc:
            return [_Outcome(False, exc)] * len(batch)
        return self._run(batch)

    def _run(self, batch: list[_Job]) -> list[_Outcome]:
        """The jobs of ``batch`` inside the transaction just begun, then COMMIT."""
        outcomes: list[_Outcome] = []
        try:
            for job in batch:
                outcomes.append(_attempt(job, self._conn))
                if not self._conn.in_transaction:
                    # SQLITE_FULL/IOERR/… rolled the whole batch back, not just this job.
                    raise outcomes[-1].value
            self._conn.execute("COMMIT")
        except Exception as exc:
            # A failed ROLLBACK must not kill the thread: every later write would hang.
            with contextlib.suppress(sqlite3.Error):
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
            return [_Outcome(False, exc)] * len(batch)
        return outcomes

    @staticmethod
    def _settle(batch: list[_Job], outcomes: list[_Outcome]) -> None:
        """Hand the outcomes back with one wakeup per event loop for the whole batch (a
        ``call_soon_threadsafe`` per write cost a self-pipe write each)."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], _Outcome]]] = {}
        for job, outcome in zip(batch, outcomes, strict=True):
            by_loop.setdefault(job.loop, []).append((job.future, outcome))
        for loop, settled in by_loop.items():
            # RuntimeError: the loop is closed, so nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve_all, settled)


def _attempt(job: _Job, conn: sqlite3.Connection) -> _Outcome:
    try:
        return _Outcome(True, job.run(conn))
    except Exception as exc:
        return _Outcome(False, exc)


def _resolve_all(settled: list[tuple[asyncio.Future[Any], _Outcome]]) -> None:
    for future, outcome in settled:
        _resolve(future, outcome)


def _resolve(future: asyncio.Future[Any], outcome: _Outcome) -> None:
    if future.done():  # the caller was cancelled; the write itself stands
        return
    if outcome.ok:
        future.set_result(outcome.value)
    else:
        future.set_exception(outcome.value)


class Checkpointer:
    """Copies the WAL into the database file every ``interval`` seconds, off the loop."""

    def __init__(self, path: Path, interval: float) -> None:
        self._path = path
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._main, name=f"sqlite-checkpoint {path}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _main(self) -> None:
        try:
            conn = sqlite3.connect(self._path, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout={RESTART_BUSY_TIMEOUT_MS}")
        except sqlite3.Error:
            logger.exception("SQLite store %s: checkpoint thread cannot connect", self._path)
            return
        try:
            while not self._stop.wait(self._interval):
                self._checkpoint(conn)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            _, wal_pages, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if wal_pages >= RESTART_FRAMES:
                conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        except sqlite3.Error as exc:
            # Transient (e.g. a checkpoint by another process); the next round retries.
            logger.warning("SQLite store %s: checkpoint failed: %s", self._path, exc)

"""The SQLite store's two background threads: the writer (group commit) and the checkpointer.

Writes are group-committed: the writes submitted during one iteration of the event loop are
one batch, one ``BEGIN IMMEDIATE … COMMIT``; a write's coroutine returns only after that COMMIT.
A batch runs on the loop itself when that is cheap and cannot wait: ``synchronous=NORMAL`` (a
COMMIT writes to the OS, no fsync), at most ``INLINE_MAX`` writes, no bulk write (a GC delete of
many rows) among them, and the write lock taken at once (``busy_timeout`` 0 for the loop's BEGIN).
Otherwise it goes to the writer thread, which fsyncs (``synchronous=FULL``) and runs bulk writes
off the loop. Why on the loop when it can: on the thread, every SQLite call hands the GIL back
and forth with the loop, and each batch costs the thread a wakeup and the loop another
(bench/webhooks.py, back to back: POST → completed p50 at 100/s 1.6-3.0 → 1.5 ms, and the
writer thread's wakeups gone: 1.75 → 1.48 ms CPU per event at that rate). The numbers
against writing every write on the loop, one by one, are in ``bench/store.py``.

A batch whose BEGIN finds the write lock taken (another process writes, or the checkpointer's
``RESTART`` holds it) waits on the loop without blocking it: it is retried from a timer, and the
writes submitted meanwhile join it in order, until the lock is free (then it commits on the loop
as usual) or ``busy_timeout`` has passed (then its writes fail with SQLite's "database is
locked", as a BEGIN that waited that long would). The same while another thread uses the
connection (the writer thread's bulk write, the checkpointer's ``start_wal``); past
``busy_timeout`` that batch goes to the writer thread. Handing such
batches to the thread instead cost the webhook path dearly: the thread, busy for the RESTART and
then fighting the loop for the GIL, made every later batch queue behind it (at 2,500 events/s,
~half the writes went to the thread; the writer thread's CPU 4 → 45-70 µs per event).

Auto-checkpointing is off because a checkpoint inside a commit stalled the loop 6-8 ms; a
second thread with its own connection runs ``PRAGMA wal_checkpoint(PASSIVE)`` periodically, and
``RESTART`` when a steady stream of writes has kept the WAL from ever being reset. Once a
checkpoint has copied the whole WAL, that thread also makes the write that starts it over (on
the writer's connection, holding it like the writer thread does): that write fsyncs the WAL's
new header, and otherwise it was the loop's next COMMIT.
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
# Seconds between the loop's attempts to begin a batch that found the write lock taken: doubling
# from the first to the last (SQLite's own busy handler sleeps 1, 2, 5, 10, … ms).
RETRY_DELAYS = (0.001, 0.002, 0.004, 0.008)

T = TypeVar("T")


class _Job(NamedTuple):
    run: Callable[[sqlite3.Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    bulk: bool  # may touch many rows (a GC delete): never on the loop


class _Outcome(NamedTuple):
    ok: bool
    value: Any  # the result, or the exception when not ok


class _Waiting:
    """A loop's batch that could not begin at once, retried from a timer (module docstring)."""

    def __init__(self, jobs: list[_Job], deadline: float) -> None:
        self.jobs = jobs
        self.deadline = deadline  # loop.time() past which it stops waiting
        self.attempts = 0
        self.timer: asyncio.TimerHandle | None = None


class Writer:
    """The one thread that writes: each batch of queued jobs is one BEGIN IMMEDIATE … COMMIT."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path | str, *, inline: bool, busy_timeout_ms: int
    ) -> None:
        self._conn = conn
        self._inline = inline  # batches may run on the loop (synchronous=NORMAL)
        self._busy_timeout_ms = int(busy_timeout_ms)
        # The connection's busy timeout now (``connect`` set the configured one): the loop's
        # BEGIN wants 0, the thread's the configured one; changed only when the other used it.
        self._timeout_set_ms = self._busy_timeout_ms
        # Held by whoever uses the connection: the thread for a batch, the loop for one.
        self._using = threading.Lock()
        self._queue: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        self._stopped = False
        # Per event loop, the jobs submitted during its current iteration (see ``_hand_over``).
        self._ticks: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
        # Per event loop, the batch waiting for the write lock, if any.
        self._waiting: dict[asyncio.AbstractEventLoop, _Waiting] = {}
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
        """Commit what ``loop`` submitted since the last hand-over: here if that is cheap, after
        the batch already waiting for the write lock if there is one, else on the thread."""
        tick = self._ticks.pop(loop, None)
        if not tick:
            return
        waiting = self._waiting.get(loop)
        if waiting is not None:
            waiting.jobs += tick  # committed with it, in order, when the lock is free
        else:
            self._place(loop, tick, None)

    def _place(
        self, loop: asyncio.AbstractEventLoop, batch: list[_Job], waiting: _Waiting | None
    ) -> None:
        """Commit ``batch`` on the loop now, or queue it to the thread, or retry it later."""
        if not self._inline or len(batch) > INLINE_MAX or any(job.bulk for job in batch):
            self._queue.put(batch)
            return
        refused = self._commit_here(batch)
        if refused is None:
            return
        if isinstance(refused, sqlite3.Error) and not is_busy(refused):
            self._queue.put(batch)  # the file fails: the thread runs it and reports the error
            return
        if waiting is None:
            waiting = _Waiting(batch, loop.time() + self._busy_timeout_ms / 1000)
        if loop.time() >= waiting.deadline:
            if isinstance(refused, sqlite3.Error):  # another process kept the lock that long
                for job in batch:
                    _resolve(job.future, _Outcome(False, refused))
            else:  # the thread kept the connection that long: queue behind it
                self._queue.put(batch)
            return
        delay = RETRY_DELAYS[min(waiting.attempts, len(RETRY_DELAYS) - 1)]
        waiting.attempts += 1
        waiting.timer = loop.call_later(delay, self._retry, loop)
        self._waiting[loop] = waiting

    def _retry(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting = self._waiting.pop(loop, None)
        if waiting is not None:
            self._place(loop, waiting.jobs, waiting)

    def _commit_here(self, batch: list[_Job]) -> sqlite3.Error | bool | None:
        """Run ``batch`` on the loop: None when committed, else why nothing was done: False when
        the thread is using the connection, the error of the BEGIN that did not take the lock."""
        if not self._using.acquire(blocking=False):
            return False
        try:
            try:
                self._set_busy_timeout(0)
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                return exc
            # The batch runs with no busy timeout: holding the write lock of a WAL file, none
            # of its statements waits for a lock.
            outcomes = self._run(batch)
        finally:
            self._using.release()
        for job, outcome in zip(batch, outcomes, strict=True):
            _resolve(job.future, outcome)
        return None

    def _set_busy_timeout(self, ms: int) -> None:
        """Called holding ``_using``; a PRAGMA only when the other side changed it."""
        if self._timeout_set_ms != ms:
            self._conn.execute(f"PRAGMA busy_timeout = {ms}")
            self._timeout_set_ms = ms

    def start_wal(self, then: Callable[[], T]) -> T | None:
        """For the checkpointer (its thread), once a checkpoint copied the whole WAL: be the
        writer that starts the WAL over, on this connection so that its page cache stays valid
        (after another connection's commit, it is dropped and read again: +7 % of the loop's
        SQLite time in pread when the checkpointer wrote on its own connection). ``then()``
        runs before any other write of this process can; None when nothing was written."""
        with self._using:
            if self._stopped:
                return None
            try:
                self._set_busy_timeout(0)
                _start_wal(self._conn)
            except sqlite3.Error:
                return None  # e.g. another process writes: the next round tries again
            return then()

    def stop(self) -> None:
        """Finish the queued and waiting jobs on the thread, then close the connection."""
        self._stopped = True
        for loop in {*self._waiting, *self._ticks}:  # in order: waiting, then not handed over
            waiting = self._waiting.pop(loop, None)
            if waiting is not None and waiting.timer is not None:
                waiting.timer.cancel()
            batch = (waiting.jobs if waiting else []) + self._ticks.pop(loop, [])
            if batch:
                self._queue.put(batch)
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
            self._set_busy_timeout(self._busy_timeout_ms)
            self._conn.execute("BEGIN IMMEDIATE")
        except Exception as exc:
            return [_Outcome(False, exc)] * len(batch)
        return self._run(batch)

    def _run(self, batch: list[_Job]) -> list[_Outcome]:
        """The jobs of ``batch`` inside the transaction just begun, then COMMIT.

        Each job is all or nothing: one that raises may have run some of its statements (an
        instance inserted, its enforcement refused), so the transaction is rolled back and the
        batch runs again without it in a new one; its error is its outcome. Jobs report what
        they expect (a duplicate, a lost compare-and-set) by their value, so only a bug or an
        error of a job's own pays for the rerun. Not a SAVEPOINT per batch: SQLite then copies
        every page the batch changes into a sub-journal (a workflow chain's task: +20 % CPU)."""
        refused: dict[int, _Outcome] = {}
        try:
            while (outcomes := self._attempt_all(batch, refused)) is None:
                self._conn.execute("ROLLBACK")
                # Waits as the first BEGIN did (none on the loop): if another process took the
                # lock in between, the jobs left fail as a busy store, the refused keep theirs.
                self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("COMMIT")
        except Exception as exc:
            # A failed ROLLBACK must not kill the thread: every later write would hang.
            with contextlib.suppress(sqlite3.Error):
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
            failed = _Outcome(False, exc)
            return [refused.get(n, failed) for n in range(len(batch))]
        return outcomes

    def _attempt_all(
        self, batch: list[_Job], refused: dict[int, _Outcome]
    ) -> list[_Outcome] | None:
        """Every job's outcome, the ``refused`` ones skipped; None when one raised (it joins
        ``refused``, and what ran before it must be undone and run again)."""
        outcomes: list[_Outcome] = []
        for n, job in enumerate(batch):
            outcome = refused.get(n) or _attempt(job, self._conn)
            if not self._conn.in_transaction:
                # SQLITE_FULL/IOERR/… rolled the whole batch back, not just this job.
                raise outcome.value
            if not outcome.ok and n not in refused:
                refused[n] = outcome
                return None
            outcomes.append(outcome)
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


def is_busy(exc: sqlite3.Error) -> bool:
    """SQLITE_BUSY (any extended code): another connection holds the lock."""
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY


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
    """Copies the WAL into the database file every ``interval`` seconds, off the loop, and has
    ``start_wal`` (the writer's) start it over once it copied all of it (see ``_start_wal``)."""

    def __init__(
        self, path: Path, interval: float, start_wal: Callable[[Callable[[], int]], int | None]
    ) -> None:
        self._path = path
        self._interval = interval
        self._start_wal = start_wal
        self._stop = threading.Event()
        # ``_data_version`` right after the last ``start_wal``, before any other write of ours.
        self._own_write: int | None = None
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
            if _data_version(conn) == self._own_write:
                return  # nobody wrote since ``start_wal``: only its own page to copy
            _, wal_pages, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if wal_pages >= RESTART_FRAMES:
                busy, wal_pages, copied = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
                if busy:
                    return
            if 0 < wal_pages == copied:  # all copied: the next writer starts the WAL over
                self._own_write = self._start_wal(lambda: _data_version(conn))
        except sqlite3.Error as exc:
            # Transient (e.g. a checkpoint by another process); the next round retries.
            logger.warning("SQLite store %s: checkpoint failed: %s", self._path, exc)


def _data_version(conn: sqlite3.Connection) -> int:
    """Changes whenever another connection commits (one in this process or another)."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])


def _start_wal(conn: sqlite3.Connection) -> None:
    """Be the writer that starts the WAL over once a checkpoint copied all of it: that writer
    fsyncs the WAL's new header, even with ``synchronous=NORMAL``, and it was the loop's next
    COMMIT (py-spy --native, 2,500 events/s offered: fdatasync under the loop's COMMIT, 15-91
    samples at 400 Hz in one run, i.e. 40-230 ms of stalls). The write: the header's
    ``user_version``, rewritten unchanged (one page; ``_checkpoint`` does not copy it alone, so
    an idle store is not written every round)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        conn.execute(f"PRAGMA user_version = {int(version)}")
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise

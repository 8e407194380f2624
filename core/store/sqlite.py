"""Embedded store: one SQLite file through the stdlib ``sqlite3``.

URL: ``sqlite:///relative/path.db`` (resolved against the config file's folder),
``sqlite:////absolute/path.db`` or ``sqlite:///:memory:`` (tests). Query options:

- ``synchronous=normal`` (default): WAL with ``synchronous=NORMAL``. A committed write survives
  a crash of the Squall process (the WAL is in the OS page cache), but the last commits before
  an OS crash or power loss can be lost.
- ``synchronous=full`` (or ``extra``): fsync on every commit, durable against power loss too.
  Group commit (below) shares one fsync among all the writes in flight.
- ``busy_timeout=MILLISECONDS`` (default 5000): how long a write waits for another process that
  holds the write lock, so several processes can share one file.

Reads run directly on the event loop: WAL readers never wait for writers and take ~30 µs. Writes
go to one writer thread, which commits everything queued meanwhile in one transaction (group
commit); a write's coroutine returns only after that COMMIT. The thread keeps page writes
(~100 µs per insert: the row plus six B-trees), fsyncs and waits for other processes' locks
off the loop; the numbers against writing on the loop are in ``bench/store.py``.

Auto-checkpointing is off because a checkpoint inside a commit stalled the loop 6-8 ms; a
second thread with its own connection runs ``PRAGMA wal_checkpoint(PASSIVE)`` periodically, and
``RESTART`` when a steady stream of writes has kept the WAL from ever being reset.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, NamedTuple, ParamSpec, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from core.models import COMPLETED, Execution, ExecutionStatus
from core.models.execution import isoformat
from core.store.base import ExecutionQuery, StoreError
from core.store.sqlite_schema import current_version, migrate

logger = logging.getLogger(__name__)

MEMORY = ":memory:"
SYNCHRONOUS_MODES = ("normal", "full", "extra")
# The WAL file is reused from its start after each reset; cap what it keeps on disk.
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
# Past this many WAL pages (16 MiB) a RESTART checkpoint forces the next write to reset the WAL.
RESTART_FRAMES = 4096
# RESTART makes writers wait; give up quickly and retry next round rather than stall them.
RESTART_BUSY_TIMEOUT_MS = 100
MAX_BATCH = 256

P = ParamSpec("P")
T = TypeVar("T")


def stamp(ts: datetime | None) -> str | None:
    """Fixed-width UTC text, so string order is time order (isoformat drops zero microseconds)."""
    if ts is None:
        return None
    return ts.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class SqliteOptions:
    synchronous: str = "normal"
    busy_timeout_ms: int = 5000
    # Seconds. A no-op checkpoint is nearly free; under a burst of writes, checking this often
    # kept the WAL under ~40 MB in bench/store.py where 0.5 s let it reach ~100 MB.
    checkpoint_interval: float = 0.1

    def __post_init__(self) -> None:
        if self.synchronous not in SYNCHRONOUS_MODES:
            modes = ", ".join(SYNCHRONOUS_MODES)
            raise ValueError(f"synchronous={self.synchronous!r} (use one of {modes})")


# -- URL ----------------------------------------------------------------------------------


def parse_url(url: str, *, base_dir: str | None = None) -> tuple[Path | str, SqliteOptions]:
    parts = urlsplit(url)
    if parts.scheme != "sqlite" or parts.netloc or not parts.path.startswith("/"):
        raise StoreError(
            f"store.url: {url!r} is not sqlite:///relative/path.db or sqlite:////absolute/path.db"
        )
    raw = unquote(parts.path[1:])
    if not raw:
        raise StoreError(f"store.url: {url!r} names no database file")
    options = _options(url, parts.query)
    if raw == MEMORY:
        return MEMORY, options
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = Path(base_dir or ".") / path
    return path.absolute(), options


def _options(url: str, query: str) -> SqliteOptions:
    try:
        params = {k: v[-1] for k, v in parse_qs(query, strict_parsing=bool(query)).items()}
        synchronous = params.pop("synchronous", "normal").lower()
        busy_timeout_ms = int(params.pop("busy_timeout", "5000"))
        if params:
            raise ValueError(f"unknown option(s) {', '.join(sorted(params))}")
        return SqliteOptions(synchronous=synchronous, busy_timeout_ms=busy_timeout_ms)
    except ValueError as exc:
        raise StoreError(f"store.url: {exc} in {url!r}") from exc


# -- connections and threads --------------------------------------------------------------


class StoreBusy(StoreError):
    """Another process held the write lock for longer than ``busy_timeout``."""


def _store_error(path: Path | str, exc: sqlite3.Error) -> StoreError:
    busy = getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY
    return (StoreBusy if busy else StoreError)(f"SQLite store {path}: {exc}")


def connect(path: Path | str, options: SqliteOptions) -> sqlite3.Connection:
    """A configured connection: autocommit (we BEGIN ourselves), WAL, no auto-checkpoint.

    ``check_same_thread`` is off because the writer connection is opened (and migrated) on the
    loop and then used only by the writer thread.
    """
    conn = sqlite3.connect(
        path,
        timeout=options.busy_timeout_ms / 1000,
        isolation_level=None,
        check_same_thread=False,
    )
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if path != MEMORY and str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"could not switch to WAL mode (still {mode})")
        # Interpolation is safe: SqliteOptions only accepts SYNCHRONOUS_MODES.
        conn.execute(f"PRAGMA synchronous={options.synchronous.upper()}")
        conn.execute("PRAGMA wal_autocheckpoint=0")
        conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
    except BaseException:
        conn.close()
        raise
    return conn


class _Job(NamedTuple):
    run: Callable[[sqlite3.Connection], Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


class _Outcome(NamedTuple):
    ok: bool
    value: Any  # the result, or the exception when not ok


class _Writer:
    """The one thread that writes: each batch of queued jobs is one BEGIN IMMEDIATE … COMMIT."""

    def __init__(self, conn: sqlite3.Connection, path: Path | str) -> None:
        self._conn = conn
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._stopped = False
        self._thread = threading.Thread(
            target=self._main, name=f"sqlite-writer {path}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def submit(self, run: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        if self._stopped:
            raise StoreError("SQLite store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Job(run, loop, future))
        return future

    def stop(self) -> None:
        """Finish the queued jobs, then close the connection."""
        self._stopped = True
        self._queue.put(None)
        self._thread.join()

    def _main(self) -> None:
        try:
            while (batch := self._next_batch()) is not None:
                self._settle(batch, self._commit(batch))
        finally:
            self._conn.close()

    def _next_batch(self) -> list[_Job] | None:
        batch: list[_Job] = []
        item = self._queue.get()
        while item is not None:
            batch.append(item)
            if len(batch) == MAX_BATCH:
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
        outcomes: list[_Outcome] = []
        try:
            self._conn.execute("BEGIN IMMEDIATE")
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
        for job, outcome in zip(batch, outcomes, strict=True):
            # RuntimeError: the loop is closed, so nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                job.loop.call_soon_threadsafe(_resolve, job.future, outcome)


def _attempt(job: _Job, conn: sqlite3.Connection) -> _Outcome:
    try:
        return _Outcome(True, job.run(conn))
    except Exception as exc:
        return _Outcome(False, exc)


def _resolve(future: asyncio.Future[Any], outcome: _Outcome) -> None:
    if future.done():  # the caller was cancelled; the write itself stands
        return
    if outcome.ok:
        future.set_result(outcome.value)
    else:
        future.set_exception(outcome.value)


class _Checkpointer:
    """Copies the WAL into the database file every ``checkpoint_interval`` s, off the loop."""

    def __init__(self, path: Path, options: SqliteOptions) -> None:
        self._path = path
        self._options = options
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
            while not self._stop.wait(self._options.checkpoint_interval):
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


class Database:
    """The connections behind one store: a reader on the loop, the writer and checkpointer.

    ``:memory:`` has one connection per database, so there everything goes to the writer.
    """

    def __init__(self, path: Path | str, options: SqliteOptions) -> None:
        self.path = path
        writer = self._open_writer(options)
        try:
            self._reader = None if path == MEMORY else self._open_reader(options)
        except BaseException:
            writer.close()
            raise
        self._writer = _Writer(writer, path)
        self._writer.start()
        self._checkpointer: _Checkpointer | None = None
        if isinstance(path, Path):
            self._checkpointer = _Checkpointer(path, options)
            self._checkpointer.start()

    async def read(
        self, fn: Callable[Concatenate[sqlite3.Connection, P], T], *args: P.args, **kw: P.kwargs
    ) -> T:
        if self._reader is None:
            return await self.write(fn, *args, **kw)
        try:
            return fn(self._reader, *args, **kw)
        except sqlite3.Error as exc:
            raise _store_error(self.path, exc) from exc

    async def write(
        self, fn: Callable[Concatenate[sqlite3.Connection, P], T], *args: P.args, **kw: P.kwargs
    ) -> T:
        future = self._writer.submit(lambda conn: fn(conn, *args, **kw))
        try:
            return await future
        except sqlite3.Error as exc:
            raise _store_error(self.path, exc) from exc

    async def close(self) -> None:
        # Joining blocks the loop for at most one batch or checkpoint; fine at shutdown.
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self._writer.stop()
        if self._reader is not None:
            self._reader.close()

    def _open_writer(self, options: SqliteOptions) -> sqlite3.Connection:
        try:
            if isinstance(self.path, Path):
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = connect(self.path, options)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open SQLite store {self.path}: {exc}") from exc
        try:
            # Blocks while another process migrates the same file: acceptable at startup.
            migrate(conn, self.path)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot open SQLite store {self.path}: {exc}") from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def _open_reader(self, options: SqliteOptions) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=options.busy_timeout_ms / 1000, isolation_level=None
            )
            conn.execute("PRAGMA query_only=ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open SQLite store {self.path}: {exc}") from exc
        return conn


# -- the store ----------------------------------------------------------------------------


class SqliteStore:
    """The ``Store`` backed by one SQLite file in WAL mode."""

    backend: str = "sqlite"

    def __init__(self, path: Path | str, options: SqliteOptions | None = None) -> None:
        self.path = path if path == MEMORY else Path(path)
        self.options = options or SqliteOptions()
        self._db: Database | None = None
        self._executions: SqliteExecutions | None = None

    @classmethod
    def from_url(cls, url: str, *, base_dir: str | None = None) -> SqliteStore:
        path, options = parse_url(url, base_dir=base_dir)
        return cls(path, options)

    @property
    def executions(self) -> SqliteExecutions:
        if self._executions is None:
            raise StoreError(f"SQLite store {self.path} is not open")
        return self._executions

    async def open(self) -> None:
        if self._db is None:
            self._db = Database(self.path, self.options)
            self._executions = SqliteExecutions(self._db)

    async def close(self) -> None:
        if self._db is not None:
            db, self._db, self._executions = self._db, None, None
            await db.close()

    async def schema_version(self) -> int:
        if self._db is None:
            raise StoreError(f"SQLite store {self.path} is not open")
        return await self._db.read(current_version)


_COLUMNS = (
    "status, action_ref, user, parent, start_timestamp, end_timestamp, owner, lease_expires, doc"
)
_INSERT = f"INSERT INTO executions (id, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_REPLACE = (
    "UPDATE executions SET (" + _COLUMNS + ") = (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " WHERE id = ? AND status = ?"
)
_GET = "SELECT doc FROM executions WHERE id = ?"
_NEWEST_FIRST = " ORDER BY start_timestamp DESC, id DESC"
# One statement, and inside the writer's BEGIN IMMEDIATE: no other process can claim between
# the choice and the update.
_CLAIM = (
    "UPDATE executions SET owner = ?, lease_expires = ?,"
    " doc = json_set(doc, '$.owner', ?, '$.lease_expires', ?)"
    " WHERE id = (SELECT id FROM executions WHERE status = 'requested'"
    " AND (lease_expires IS NULL OR lease_expires < ?) ORDER BY start_timestamp, id LIMIT 1)"
    " RETURNING doc"
)
_RENEW = (
    "UPDATE executions SET lease_expires = ?, doc = json_set(doc, '$.lease_expires', ?)"
    " WHERE id = ? AND owner = ?"
)
_COMPLETED = tuple(sorted(str(s) for s in COMPLETED))
_DELETE_COMPLETED = (
    f"DELETE FROM executions WHERE status IN ({', '.join('?' * len(_COMPLETED))})"
    " AND end_timestamp < ?"
)


class SqliteExecutions:
    """``ExecutionRepository`` over the ``executions`` table (see sqlite_schema).

    Documents are encoded and decoded here, on the loop; the writer thread only runs SQL.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert(self, execution: Execution) -> None:
        if not await self._db.write(_insert, (execution.id, *_values(execution))):
            raise StoreError(f"execution {execution.id} already exists")

    async def get(self, execution_id: str) -> Execution | None:
        rows = await self._db.read(_fetch, _GET, (execution_id,))
        return _load(rows[0][0]) if rows else None

    async def list(self, query: ExecutionQuery) -> list[Execution]:
        where, args = _where(query)
        limit = query.limit if query.limit > 0 else -1  # SQLite: a negative LIMIT is no limit
        sql = f"SELECT doc FROM executions{where}{_NEWEST_FIRST} LIMIT ? OFFSET ?"
        rows = await self._db.read(_fetch, sql, (*args, limit, max(query.offset, 0)))
        return [_load(row[0]) for row in rows]

    async def count(self, query: ExecutionQuery) -> int:
        where, args = _where(query)
        rows = await self._db.read(_fetch, f"SELECT COUNT(*) FROM executions{where}", args)
        return int(rows[0][0])

    async def replace(self, execution: Execution, *, expected_status: ExecutionStatus) -> bool:
        args = (*_values(execution), execution.id, str(expected_status))
        return await self._db.write(_change, _REPLACE, args) == 1

    async def claim(self, owner: str, lease_until: datetime, now: datetime) -> Execution | None:
        lease = (owner, stamp(lease_until), owner, isoformat(lease_until), stamp(now))
        rows = await self._db.write(_fetch, _CLAIM, lease)
        return _load(rows[0][0]) if rows else None

    async def renew_lease(self, execution_id: str, owner: str, lease_until: datetime) -> bool:
        args = (stamp(lease_until), isoformat(lease_until), execution_id, owner)
        return await self._db.write(_change, _RENEW, args) == 1

    async def delete_completed_before(self, cutoff: datetime) -> int:
        return await self._db.write(_change, _DELETE_COMPLETED, (*_COMPLETED, stamp(cutoff)))


def _fetch(conn: sqlite3.Connection, sql: str, args: Sequence[Any]) -> list[Any]:
    return conn.execute(sql, args).fetchall()


def _change(conn: sqlite3.Connection, sql: str, args: Sequence[Any]) -> int:
    return conn.execute(sql, args).rowcount


def _insert(conn: sqlite3.Connection, row: Sequence[Any]) -> bool:
    try:
        conn.execute(_INSERT, row)
    except sqlite3.IntegrityError:
        return False  # undone by SQLite on its own; the rest of the batch is unaffected
    return True


def _values(execution: Execution) -> tuple[Any, ...]:
    """Column values in ``_COLUMNS`` order."""
    user = execution.context.get("user")
    return (
        str(execution.status),
        execution.action_ref,
        user if isinstance(user, str) else None,
        execution.parent,
        stamp(execution.start_timestamp),
        stamp(execution.end_timestamp),
        execution.owner,
        stamp(execution.lease_expires),
        json.dumps(execution.to_doc(), separators=(",", ":"), ensure_ascii=False),
    )


def _where(query: ExecutionQuery) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if query.statuses:
        clauses.append(f"status IN ({', '.join('?' * len(query.statuses))})")
        args.extend(str(s) for s in query.statuses)
    # Column names come from this fixed tuple, never from the caller.
    for column, value in (
        ("action_ref", query.action_ref),
        ("user", query.user),
        ("parent", query.parent),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args


def _load(text: str) -> Execution:
    return Execution.from_doc(json.loads(text))

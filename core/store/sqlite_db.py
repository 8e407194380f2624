"""The SQLite store's file: its URL and options, its connections and the ``Database`` over them.

URL: ``sqlite:///relative/path.db`` (resolved against the config file's folder),
``sqlite:////absolute/path.db`` or ``sqlite:///:memory:`` (tests). Query options:

- ``synchronous=normal`` (default): WAL with ``synchronous=NORMAL``. A committed write survives
  a crash of the Squall process (the WAL is in the OS page cache), but the last commits before
  an OS crash or power loss can be lost.
- ``synchronous=full`` (or ``extra``): fsync on every commit, durable against power loss too.
  Group commit (see sqlite_writer) shares one fsync among all the writes in flight.
- ``busy_timeout=MILLISECONDS`` (default 5000): how long a write waits for another process that
  holds the write lock, so several processes can share one file.

Reads run directly on the event loop: WAL readers never wait for writers and take ~30 µs.
Writes are group-committed per loop iteration by sqlite_writer: on the loop when the batch is
small and ``synchronous=normal`` (a batch that finds the write lock taken waits for it from a
timer, without blocking the loop), else on its writer thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from core.store.base import StoreError
from core.store.sqlite_files import prepare_files
from core.store.sqlite_schema import migrate
from core.store.sqlite_writer import Checkpointer, Writer, is_busy

MEMORY = ":memory:"
SYNCHRONOUS_MODES = ("normal", "full", "extra")
# The WAL file is reused from its start after each reset; cap what it keeps on disk.
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024

P = ParamSpec("P")
T = TypeVar("T")


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


def fetch_all(conn: sqlite3.Connection, sql: str, args: Sequence[Any]) -> list[Any]:
    """Every row of one query (for ``Database.read``)."""
    return conn.execute(sql, args).fetchall()


def row_count(conn: sqlite3.Connection, sql: str, args: Sequence[Any]) -> int:
    """How many rows one statement changed (for ``Database.write``; a CAS won when it is 1)."""
    return conn.execute(sql, args).rowcount


class StoreBusy(StoreError):
    """Another process held the write lock for longer than ``busy_timeout``."""


def _store_error(path: Path | str, exc: sqlite3.Error) -> StoreError:
    return (StoreBusy if is_busy(exc) else StoreError)(f"SQLite store {path}: {exc}")


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
        self._writer = Writer(
            writer,
            path,
            inline=options.synchronous == "normal",
            busy_timeout_ms=options.busy_timeout_ms,
        )
        self._writer.start()
        self._checkpointer: Checkpointer | None = None
        if isinstance(path, Path):
            self._checkpointer = Checkpointer(
                path, options.checkpoint_interval, self._writer.start_wal
            )
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

    async def write_bulk(
        self, fn: Callable[Concatenate[sqlite3.Connection, P], T], *args: P.args, **kw: P.kwargs
    ) -> T:
        """``write`` for a statement that may touch many rows (garbage collection): always on
        the writer thread, so it never holds up the event loop."""
        future = self._writer.submit(lambda conn: fn(conn, *args, **kw), bulk=True)
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
                prepare_files(self.path)
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

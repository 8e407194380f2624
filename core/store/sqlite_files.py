"""The SQLite store's files before the first connection: owner-only, and really writable.

The database holds executions, audit and approvals (secrets sealed, but still private data),
so it is created ``0600`` in a folder created ``0700``; SQLite gives its ``-wal`` and ``-shm``
the database file's mode. Files that already exist with looser modes are tightened (and said
so). A file that exists but cannot be written is refused with the file named: SQLite maps
``-shm`` into memory, and an unwritable one kills the process with SIGBUS and no log line.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from core.store.base import StoreError

logger = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700
SUFFIXES = ("", "-wal", "-shm")


def prepare_files(path: Path) -> None:
    """Create the folder and database file owner-only; check the existing files."""
    if not path.parent.exists():
        try:
            path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the folder of SQLite store {path}: {exc}") from exc
    for suffix in SUFFIXES:
        _check(Path(f"{path}{suffix}"))
    if not path.exists():
        try:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE))
        except OSError as exc:
            raise StoreError(f"cannot create SQLite store {path}: {exc.strerror}") from exc


def _check(file: Path) -> None:
    try:
        info = file.stat()
    except FileNotFoundError:
        return
    if not os.access(file, os.R_OK | os.W_OK):
        raise StoreError(
            f"SQLite store file {file} is not readable and writable by this user "
            f"(uid {os.geteuid()}, file owner {info.st_uid}, mode {stat.S_IMODE(info.st_mode):o}); "
            "fix its owner or mode, or remove a stale -wal/-shm left by another user"
        )
    if stat.S_IMODE(info.st_mode) & 0o077 and info.st_uid == os.geteuid():
        os.chmod(file, FILE_MODE)
        logger.warning("SQLite store file %s was readable by others: mode set to 600", file)

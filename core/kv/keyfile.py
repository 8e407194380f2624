"""The datastore key file (setting ``crypto.key_path``, security.md §1.4).

JSON ``{"version": 1, "keys": [{"id", "key" (base64), "created" (ISO 8601)}, ...]}``, oldest
first; the last entry is the current key. The file lives outside the database so a copy of
the database alone never reveals secrets, and it must be readable by its owner only.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import stat
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from core.kv.crypto import DatastoreKey, KeyRing, generate_key

FORMAT_VERSION = 1
FILE_MODE = 0o600
DIR_MODE = 0o700


class KeyFileError(Exception):
    """A key file Squall refuses to use; the message names the file and never the key."""


def load_or_create_key(path: Path) -> KeyRing:
    """Load the key ring at ``path``, creating a file with one new key if there is none."""
    if not path.exists():
        _make_parents(path.parent)
        # link() refuses to overwrite, so a file another process created first wins.
        with contextlib.suppress(FileExistsError):
            _write(path, KeyRing(current=generate_key()), replace=False)
    return load_key(path)


def load_key(path: Path) -> KeyRing:
    """Load an existing key file, refusing loose permissions or malformed content."""
    _check_permissions(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read datastore key file {path}: {exc.strerror}") from None
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        # The decoder's own message may quote file bytes, i.e. key material.
        raise KeyFileError(f"datastore key file {path} is malformed: not UTF-8 JSON") from None
    return _parse(path, document)


def rotate_key(path: Path) -> KeyRing:
    """Add a new current key to the file at ``path``; older keys stay for decryption."""
    ring = load_key(path)
    new_key = generate_key()
    while ring.get(new_key.id) is not None:  # pragma: no cover - 48 random bits collided
        new_key = generate_key()
    rotated = ring.rotated(new_key)
    _write(path, rotated, replace=True)
    return rotated


def _check_permissions(path: Path) -> None:
    try:
        info = path.stat()
    except OSError as exc:
        raise KeyFileError(f"cannot read datastore key file {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileError(f"datastore key file {path} is not a regular file")
    if info.st_mode & 0o077:
        raise KeyFileError(
            f"datastore key file {path} is accessible by group or others "
            f"(mode {stat.S_IMODE(info.st_mode):o}); run: chmod 600 {path}"
        )


def _parse(path: Path, document: Any) -> KeyRing:
    if not isinstance(document, Mapping) or document.get("version") != FORMAT_VERSION:
        raise KeyFileError(
            f"datastore key file {path} is malformed: expected a JSON object "
            f'with "version": {FORMAT_VERSION}'
        )
    entries = document.get("keys")
    if not isinstance(entries, list) or not entries:
        message = f'datastore key file {path} is malformed: "keys" must be a non-empty list'
        raise KeyFileError(message)
    keys = [_parse_entry(path, index, entry) for index, entry in enumerate(entries)]
    try:
        return KeyRing(current=keys[-1], older=tuple(reversed(keys[:-1])))
    except ValueError as exc:
        raise KeyFileError(f"datastore key file {path} is malformed: {exc}") from None


def _parse_entry(path: Path, index: int, entry: Any) -> DatastoreKey:
    where = f"datastore key file {path}, key #{index}"
    if not isinstance(entry, Mapping):
        raise KeyFileError(f"{where} is malformed: expected an object")
    key_id, encoded, created = entry.get("id"), entry.get("key"), entry.get("created")
    if not (isinstance(key_id, str) and isinstance(encoded, str) and isinstance(created, str)):
        raise KeyFileError(f'{where} is malformed: "id", "key" and "created" must be strings')
    try:
        secret = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise KeyFileError(f'{where} is malformed: "key" is not valid base64') from None
    try:
        return DatastoreKey(id=key_id, secret=secret, created=datetime.fromisoformat(created))
    except ValueError as exc:
        # DatastoreKey's and fromisoformat's messages carry lengths and ids, never key bytes.
        raise KeyFileError(f"{where} is malformed: {exc}") from None


def _serialise(ring: KeyRing) -> bytes:
    oldest_first = (*reversed(ring.older), ring.current)
    entries = [
        {
            "id": key.id,
            "key": base64.b64encode(key.secret).decode("ascii"),
            "created": key.created.isoformat(),
        }
        for key in oldest_first
    ]
    document = {"version": FORMAT_VERSION, "keys": entries}
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


def _write(path: Path, ring: KeyRing, *, replace: bool) -> None:
    """Write via a 0600 temp file in the same directory, so readers never see half a file."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)  # the umask may not be what we assume
            handle.write(_serialise(ring))
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(temp, path)
        else:
            os.link(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the new directory entry durable; some platforms cannot open directories.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _make_parents(directory: Path) -> None:
    """Create missing directories as 0700; existing ones are left as the admin set them."""
    missing: list[Path] = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for new_dir in reversed(missing):
        with contextlib.suppress(FileExistsError):
            new_dir.mkdir(mode=DIR_MODE)
            new_dir.chmod(DIR_MODE)  # mkdir's mode is filtered by the umask

"""The datastore key file: creation, permissions, validation, rotation (security.md §1.4)."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from core.kv import KeyFileError, decrypt, encrypt, load_key, load_or_create_key, rotate_key


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _write(path: Path, content: str | bytes, mode: int = 0o600) -> Path:
    data = content.encode() if isinstance(content, str) else content
    path.write_bytes(data)
    path.chmod(mode)
    return path


def _entry(**overrides: Any) -> dict[str, Any]:
    entry = {
        "id": "k1",
        "key": base64.b64encode(b"\x01" * 32).decode(),
        "created": "2026-01-01T00:00:00+00:00",
    }
    return {**entry, **overrides}


def test_creates_key_file_0600_in_new_0700_dirs(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "squall.key"
    old_umask = os.umask(0o022)
    try:
        ring = load_or_create_key(path)
    finally:
        os.umask(old_umask)
    assert _mode(path) == 0o600
    assert _mode(tmp_path / "a") == 0o700 and _mode(tmp_path / "a" / "b") == 0o700
    document = json.loads(path.read_text())
    assert document["version"] == 1
    [entry] = document["keys"]
    assert entry["id"] == ring.current.id
    assert base64.b64decode(entry["key"]) == ring.current.secret
    assert ring.older == ()
    assert [p.name for p in path.parent.iterdir()] == ["squall.key"]  # no temp file left


def test_existing_parent_dir_mode_is_left_alone(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    load_or_create_key(tmp_path / "squall.key")
    assert _mode(tmp_path) == 0o755


def test_loading_again_returns_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "squall.key"
    first = load_or_create_key(path)
    assert load_or_create_key(path) == first
    assert load_key(path) == first


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_refuses_file_readable_by_group_or_others(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "squall.key"
    load_or_create_key(path)
    path.chmod(mode)
    with pytest.raises(KeyFileError, match="chmod 600") as caught:
        load_or_create_key(path)
    assert str(path) in str(caught.value)


def test_refuses_directory(tmp_path: Path) -> None:
    (tmp_path / "squall.key").mkdir()
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_key(tmp_path / "squall.key")


def test_missing_file_for_load_key(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read"):
        load_key(tmp_path / "absent.key")


@pytest.mark.parametrize(
    "content",
    [
        "",
        "not json",
        b"\xff\xfe binary",
        "[]",
        '{"version": 2, "keys": []}',
        '{"version": 1}',
        '{"version": 1, "keys": []}',
        '{"version": 1, "keys": ["k"]}',
        json.dumps({"version": 1, "keys": [_entry(id=None)]}),
        json.dumps({"version": 1, "keys": [_entry(id="bad id")]}),
        json.dumps({"version": 1, "keys": [_entry(key="not base64!")]}),
        json.dumps({"version": 1, "keys": [_entry(created="yesterday")]}),
        json.dumps({"version": 1, "keys": [_entry(), _entry()]}),
    ],
)
def test_refuses_malformed_file(tmp_path: Path, content: str | bytes) -> None:
    path = _write(tmp_path / "squall.key", content)
    with pytest.raises(KeyFileError, match="malformed") as caught:
        load_or_create_key(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize("length", [0, 16, 31, 33, 64])
def test_refuses_wrong_key_length(tmp_path: Path, length: int) -> None:
    key = base64.b64encode(b"\x02" * length).decode()
    path = _write(tmp_path / "squall.key", json.dumps({"version": 1, "keys": [_entry(key=key)]}))
    with pytest.raises(KeyFileError, match=f"{length} bytes .expected 32") as caught:
        load_key(path)
    if key:  # "" is a substring of everything
        assert key not in str(caught.value)


def test_errors_never_quote_key_material(tmp_path: Path) -> None:
    secret = base64.b64encode(b"\x03" * 32).decode()
    path = _write(tmp_path / "squall.key", '{"version": 1, "keys": [{"key": "' + secret + '"')
    with pytest.raises(KeyFileError) as caught:
        load_key(path)
    assert secret not in str(caught.value)


def test_rotate_adds_current_key_and_keeps_old_ones(tmp_path: Path) -> None:
    path = tmp_path / "squall.key"
    original = load_or_create_key(path)
    old_token = encrypt(original, "before", name="k", scope="system")

    rotated = rotate_key(path)
    assert rotated.current != original.current
    assert rotated.older == (original.current,)
    assert _mode(path) == 0o600
    assert load_key(path) == rotated

    twice = rotate_key(path)
    assert twice.older == (rotated.current, original.current)
    ids = [entry["id"] for entry in json.loads(path.read_text())["keys"]]
    assert ids == [original.current.id, rotated.current.id, twice.current.id]

    reloaded = load_or_create_key(path)
    assert decrypt(reloaded, old_token, name="k", scope="system") == "before"
    assert encrypt(reloaded, "after", name="k", scope="system").startswith(
        f"sq1:{twice.current.id}:"
    )


def test_rotate_refuses_loose_permissions(tmp_path: Path) -> None:
    path = tmp_path / "squall.key"
    load_or_create_key(path)
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        rotate_key(path)

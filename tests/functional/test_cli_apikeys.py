"""``squall apikey create|list|revoke`` in process, on a real SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.webhooks.apikeys import KEY_PREFIX, hash_api_key, key_id
from tests.conftest import cli, cli_json


def test_create_prints_the_key_once_and_stores_its_hash(
    capsys: pytest.CaptureFixture[str], squall_config: Path
) -> None:
    code, created = cli_json(capsys, squall_config, "apikey", "create", "--name", "github")
    assert code == 0
    key = created["key"]
    assert key.startswith(KEY_PREFIX) and created["id"] == key_id(key)
    assert created["name"] == "github" and created["enabled"] is True
    with sqlite3.connect(squall_config.parent / "var" / "squall.db") as db:
        dump = "\n".join(db.iterdump())
    assert key not in dump and hash_api_key(key) in dump
    # Listings never show the key, nor its hash.
    code, out, _ = cli(capsys, squall_config, "apikey", "list")
    assert code == 0 and created["id"] in out and "github" in out
    assert key not in out and hash_api_key(key).removeprefix("sha256:") not in out
    code, listed = cli_json(capsys, squall_config, "apikey", "list")
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0] and "key_hash" not in listed[0]


def test_human_create_says_the_key_is_shown_once(
    capsys: pytest.CaptureFixture[str], squall_config: Path
) -> None:
    code, out, _ = cli(capsys, squall_config, "apikey", "create")
    assert code == 0 and "shown only this once" in out
    assert any(line.startswith(KEY_PREFIX) for line in out.splitlines())


def test_revoke_disables_a_key_and_keeps_it_listed(
    capsys: pytest.CaptureFixture[str], squall_config: Path
) -> None:
    _, created = cli_json(capsys, squall_config, "apikey", "create")
    code, out, _ = cli(capsys, squall_config, "apikey", "revoke", created["id"])
    assert (code, out.strip()) == (0, f"API key {created['id']} revoked")
    _, [listed] = cli_json(capsys, squall_config, "apikey", "list")
    assert listed["enabled"] is False and listed["revoked_at"]
    code, out, err = cli(capsys, squall_config, "apikey", "revoke", created["id"])
    assert (code, out) == (1, "") and "already revoked" in err
    code, out, err = cli(capsys, squall_config, "apikey", "revoke", "nope")
    assert (code, out) == (1, "") and err.strip().endswith("not found (see `squall apikey list`)")

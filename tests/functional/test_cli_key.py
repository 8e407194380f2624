"""``squall key`` end to end: in-process CLI over a temp config, real SQLite and key file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.conftest import cli, cli_json


def test_set_get_list_delete(capsys: pytest.CaptureFixture[str], squall_config: Path) -> None:
    code, item = cli_json(capsys, squall_config, "key", "set", "db.host", "db1")
    assert code == 0
    assert item["name"] == "db.host" and item["value"] == "db1"
    assert item["scope"] == "st2kv.system" and item["secret"] is False

    code, out, _ = cli(capsys, squall_config, "key", "get", "db.host")
    assert (code, out) == (0, "db1\n")

    cli_json(capsys, squall_config, "key", "set", "other", "x")
    code, items = cli_json(capsys, squall_config, "key", "list", "--prefix", "db.")
    assert (code, [i["name"] for i in items]) == (0, ["db.host"])
    code, out, _ = cli(capsys, squall_config, "key", "list")
    assert code == 0 and "db.host" in out and "other" in out and "NAME" in out

    code, result = cli_json(capsys, squall_config, "key", "delete", "db.host")
    assert (code, result) == (0, {"name": "db.host", "deleted": True})
    code, out, err = cli(capsys, squall_config, "key", "get", "db.host")
    assert (code, out) == (1, "")
    assert err == "error: datastore key 'db.host' not found in scope system\n"


def test_encrypted_key(capsys: pytest.CaptureFixture[str], squall_config: Path) -> None:
    code, item = cli_json(capsys, squall_config, "key", "set", "pw", "hunter2", "--encrypt")
    assert code == 0 and item["secret"] is True and item["encrypted"] is True
    assert "hunter2" not in item["value"]

    _, shown = cli_json(capsys, squall_config, "key", "get", "pw")
    assert shown["value"] == item["value"]
    _, opened = cli_json(capsys, squall_config, "key", "get", "pw", "--decrypt")
    assert (opened["value"], opened["encrypted"]) == ("hunter2", False)

    key_file = squall_config.parent / "var" / "squall.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    for database in (squall_config.parent / "var").glob("squall.db*"):  # the WAL too
        assert b"hunter2" not in database.read_bytes()


def test_user_scope_and_ttl(capsys: pytest.CaptureFixture[str], squall_config: Path) -> None:
    argv = ("key", "set", "token", "t1", "--scope", "user", "--user", "alice", "--ttl", "3600")
    code, item = cli_json(capsys, squall_config, *argv)
    assert code == 0
    assert (item["name"], item["user"], item["scope"]) == ("alice:token", "alice", "st2kv.user")
    assert item["expire_timestamp"] is not None

    _, items = cli_json(capsys, squall_config, "key", "list", "--scope", "user", "--user", "alice")
    assert [i["name"] for i in items] == ["alice:token"]
    _, items = cli_json(capsys, squall_config, "key", "list", "--scope", "user")
    assert items == []  # the CLI's own user has no keys
    code, _, err = cli(capsys, squall_config, "key", "get", "token")
    assert code == 1 and "not found in scope system" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("key", "set", "k", "v", "--ttl", "0"), "error: datastore TTL must be positive, not 0\n"),
        (("key", "delete", "nope"), "error: datastore key 'nope' not found in scope system\n"),
        (("key", "set", "k", "v", "--scope", "user", "--user", "a\nb"), "control characters"),
    ],
)
def test_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], squall_config: Path, argv: tuple[str, ...], message: str
) -> None:
    code, out, err = cli(capsys, squall_config, *argv)
    assert (code, out) == (1, "")
    assert message in err and err.count("\n") == 1

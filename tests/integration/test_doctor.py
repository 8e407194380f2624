"""``squall doctor``: every check runs, problems are named, exit 1 when something is wrong."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.models.lease import OutboxItem
from core.store import open_store
from tests.conftest import FIXTURES, ROOT, cli

CHAT_PACK = FIXTURES / "chat"


def write(tmp_path: Path, routes: str) -> Path:
    path = tmp_path / "squall.yaml"
    path.write_text(
        "store: {url: 'sqlite:///var/squall.db'}\n"
        f"packs: {{paths: ['{CHAT_PACK}']}}\n"
        "http: {enabled: false}\n"
        f"routes:\n{routes}"
    )
    return path


def test_a_healthy_setup_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path, "  ops: {adapter: console, channel: alerts}\n")
    code, out, _ = cli(capsys, config, "doctor")
    assert code == 0, out
    assert f"ok    config: {config}" in out
    assert f"ok    store: sqlite:{tmp_path}/var/squall.db, schema version" in out
    assert "ok    adapter console: credentials ok" in out
    assert "FAIL" not in out


def test_outbox_items_waiting_are_counted_with_their_fate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, "  ops: {adapter: console, channel: alerts}\n")

    async def put() -> None:
        store = open_store("sqlite:///var/squall.db", base_dir=str(tmp_path))
        await store.open()
        await store.outbox.put(OutboxItem.new("chat:gone", "execution.completed", "e1"))
        await store.close()

    asyncio.run(put())
    code, out, _ = cli(capsys, config, "doctor")
    assert code == 0, out  # a warning, not a failure
    assert (
        "warn  chat outbox: 1 results or card edits wait for their chat's owner"
        " (dropped after 86400 s undelivered: cluster.outbox_ttl_seconds)"
    ) in out


def test_routes_and_notify_problems_are_each_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write(tmp_path, "  pager: {adapter: slack, channel: C1}\n")
    code, out, _ = cli(capsys, config, "doctor")
    assert code == 1
    assert "FAIL  routes: routes.pager.adapter: unknown adapter 'slack'" in out
    assert "announce.yaml: notify.on-success.routes: unknown route 'ops'" in out
    assert "ok    store" in out  # later checks still ran


def test_an_unreadable_config_is_the_problem_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "squall.yaml"
    config.write_text("stor: {}\n")
    code, out, _ = cli(capsys, config, "doctor")
    assert code == 1
    assert out.startswith("FAIL  config:") and "stor: unknown key" in out


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write(tmp_path, "  ops: {adapter: console, channel: alerts}\n")
    code, out, _ = cli(capsys, config, "doctor", "--json")
    assert code == 0 and '"ok": true' in out


def test_pack_validate_names_unknown_notify_routes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = str(CHAT_PACK / "chat_demo")
    good = write(tmp_path, "  ops: {adapter: console, channel: alerts}\n")
    code, out, _ = cli(capsys, good, "pack", "validate", pack)
    assert code == 0 and "warning" not in out
    bad = write(tmp_path, "  {}\n")
    code, out, _ = cli(capsys, bad, "pack", "validate", pack)
    # A warning: the pack loads and the route is ignored (content never stops the server).
    assert code == 0
    assert "warning: " in out
    assert "announce.yaml: notify.on-success.routes: unknown route 'ops'" in out


def test_library_warnings_stay_out_of_doctor(tmp_path: Path) -> None:
    """slack-bolt (with $SLACK_BOT_TOKEN set, as the README says) and discord.py warned about
    things Squall does not use: "token will be unused", "PyNaCl is not installed", "Guilds
    intent seems to be disabled". In a fresh process, as the user runs it."""
    config = tmp_path / "squall.yaml"
    config.write_text(
        "store: {url: 'sqlite:///var/squall.db'}\n"
        "http: {enabled: false}\n"
        "chat:\n"
        "  slack: {enabled: true, bot_token: '${SLACK_BOT_TOKEN}', app_token: xapp-1,\n"
        "          api_url: 'http://127.0.0.1:9/api/'}\n"
        "  discord: {enabled: true, token: t0k3n, api_url: 'http://127.0.0.1:9/api/v10'}\n"
    )
    env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-1"}
    doctor = subprocess.run(
        [sys.executable, "-m", "bot", "doctor", "--config", str(config)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert "FAIL  adapter slack" in doctor.stdout  # nothing answers there: checks did run
    assert "FAIL  adapter discord: Discord unreachable" in doctor.stdout
    for noise in ("token` will be unused", "PyNaCl", "Guilds intent"):
        assert noise not in doctor.stderr + doctor.stdout

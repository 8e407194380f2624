"""Workflows from the command line: ``run``, ``execution get|pause|resume|rerun``, ``inquiry``.

Pause, resume and inquiry answers typed in another shell are applied by the ``squall serve``
conducting the workflow, which runs here as a real subprocess on the same SQLite file.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli.main import main
from tests.conftest import FIXTURES, ROOT

USERS = """
users:
  bob: {identities: ["console:local:bob"]}
  carol: {identities: ["console:local:carol"]}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "squall.yaml"
    path.write_text(
        "store: {url: 'sqlite:///var/squall.db'}\n"
        f"packs: {{paths: ['{FIXTURES / 'workflow_pack'}']}}\n"
        "http: {enabled: false}\n"
        "chat: {console: {enabled: false}}\n"
        "executions: {max_concurrency: 8, python_fork_server: false,"
        " shutdown_grace_seconds: 1}\n" + USERS
    )
    return path


def cli(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, Any, str]:
    code = main([*argv, "--config", str(config), "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def status_of(config: Path, execution_id: str) -> str | None:
    with contextlib.closing(sqlite3.connect(config.parent / "var" / "squall.db")) as db:
        row = db.execute("select status from executions where id = ?", (execution_id,)).fetchone()
    return None if row is None else str(row[0])


def wait_status(config: Path, execution_id: str, *statuses: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = status_of(config, execution_id)
        if found in statuses:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{execution_id} still {status_of(config, execution_id)}")


@contextlib.contextmanager
def serving(config: Path) -> Iterator[subprocess.Popen[bytes]]:
    log = (config.parent / "serve.log").open("wb")  # closed after the process ends
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--no-console", "--config", str(config)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        log.close()


def test_run_a_workflow_and_see_its_tasks(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    code, done, _ = cli(capsys, config, "run", "flows.chain", "who=cli")
    assert code == 0 and done["status"] == "succeeded"
    assert done["result"]["output"]["loud"] == "HELLO CLI"
    code, got, _ = cli(capsys, config, "execution", "get", done["id"])
    assert code == 0 and len(got["children"]) == 3
    code = main(["execution", "get", done["id"], "--config", str(config)])
    human = capsys.readouterr().out
    assert "tasks:" in human and "greet" in human and "shout" in human


def test_rerun_from_the_cli(
    capsys: pytest.CaptureFixture[str], config: Path, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    code, failed, _ = cli(capsys, config, "run", "flows.gated", f"gate={gate}")
    assert code == 1 and failed["status"] == "failed"
    gate.write_text("ok")
    code, again, _ = cli(capsys, config, "execution", "rerun", failed["id"])
    assert code == 0 and again["status"] == "succeeded" and again["id"] == failed["id"]
    assert again["result"] == {"output": {"checked": "ok"}}


def test_pause_resume_and_inquiry_answers_reach_the_serving_process(
    capsys: pytest.CaptureFixture[str], config: Path
) -> None:
    with serving(config):
        code, slow, _ = cli(capsys, config, "run", "flows.slow", "seconds=3", "--async")
        assert code == 0
        wait_status(config, slow["id"], "running")
        time.sleep(0.3)  # "first" is running
        code, paused, _ = cli(capsys, config, "execution", "pause", slow["id"])
        assert code == 0 and paused["status"] in ("pausing", "paused")
        wait_status(config, slow["id"], "paused")
        code, _, _ = cli(capsys, config, "execution", "resume", slow["id"])
        assert code == 0
        assert wait_status(config, slow["id"], "succeeded", "failed") == "succeeded"

        code, ask, _ = cli(capsys, config, "run", "flows.ask", "--async")
        wait_status(config, ask["id"], "paused")
        code, pending, _ = cli(capsys, config, "inquiry", "list")
        assert code == 0 and [p["workflow"] for p in pending] == [ask["id"]]
        inquiry = pending[0]["id"]
        code, shown, _ = cli(capsys, config, "inquiry", "get", inquiry)
        assert shown["users"] == ["bob", "erin"] and shown["status"] == "pending"
        code, _, err = cli(
            capsys, config, "inquiry", "respond", inquiry, "--approve", "--as", "carol"
        )
        assert code == 1 and "carol may not answer" in err
        answer = '{"approved": true, "reason": "from the cli"}'
        code, answered, _ = cli(capsys, config, "inquiry", "respond", inquiry, "-r", answer,
                                "--as", "bob")  # fmt: skip
        assert code == 0 and answered["status"] == "approved"
        assert wait_status(config, ask["id"], "succeeded", "failed") == "succeeded"
        code, done, _ = cli(capsys, config, "execution", "get", ask["id"])
        assert done["result"] == {"output": {"reason": "from the cli"}}


def test_pack_validate_reports_every_workflow_problem(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["pack", "validate", str(FIXTURES / "workflow_broken" / "badflows")])
    out, err = capsys.readouterr()
    lines = (out + err).strip().splitlines()
    assert code == 1
    assert any('broken.yaml: tasks.task1.next[0].do: The task "nowhere" is not defined.' in line
               and "(line 6)" in line for line in lines)  # fmt: skip
    missing = 'tasks.task1.action: The action "badflows.nonexistent" is not registered'
    assert any(missing in line for line in lines)
    assert any('tasks.task2.input.nope: Action "core.local" has unexpected input "nope"' in line
               for line in lines)  # fmt: skip
    assert main(["pack", "validate", str(FIXTURES / "workflow_pack" / "flows")]) == 0

"""kill -9 in the middle of an action: after restart it is abandoned and its process is gone."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import ROOT, group_alive


def squall(config: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *argv, "--config", str(config), "--json"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
    )  # fmt: skip


def _query(database: Path, sql: str, args: tuple[str, ...] = ()) -> tuple[object, ...] | None:
    """One row, or None while the file or its tables do not exist yet (the child creates the
    file first and migrates it a moment later: reading in between is no error)."""
    if not database.exists():
        return None
    try:
        with sqlite3.connect(database) as db:
            row: tuple[object, ...] | None = db.execute(sql, args).fetchone()
            return row
    except sqlite3.OperationalError:
        return None


def wait_running(config: Path, proc: subprocess.Popen[bytes], log: Path) -> str:
    """The id of the running execution, read straight from the SQLite file (no extra process
    competing for the store); fails at once, with its output, if ``squall run`` died."""
    database = config.parent / "var" / "squall.db"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"squall run exited {proc.returncode}: {log.read_text()}")
        row = _query(database, "select id from executions where status = 'running'")
        if row:
            return str(row[0])
        time.sleep(0.05)
    raise AssertionError(f"the execution never started running: {log.read_text()}")


def wait_pgid(config: Path, execution_id: str) -> int:
    """The process group is recorded just after spawn; read it straight from the SQLite file."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sql = "select json_extract(doc, '$.pgid') from executions where id = ?"
        row = _query(config.parent / "var" / "squall.db", sql, (execution_id,))
        if row and row[0]:
            return int(row[0])
        time.sleep(0.05)
    raise AssertionError("the process group was never recorded")


def test_kill_9_then_restart_abandons_and_kills_sleep(squall_config: Path) -> None:
    marker = f"squall-crash-{os.getpid()}"
    log = squall_config.parent / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run", "core.local", f"cmd=sleep 300; echo {marker}",
             "--config", str(squall_config)],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        execution_id = wait_running(squall_config, proc, log)
        pgid = wait_pgid(squall_config, execution_id)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert group_alive(pgid), "the sleep should outlive the killed Squall"

        result = squall(squall_config, "execution", "get", execution_id)
        after = json.loads(result.stdout)
        assert after["status"] == "abandoned"
        assert "stopped" in after["result"]["error"]
        deadline = time.monotonic() + 10
        while group_alive(pgid):
            assert time.monotonic() < deadline, "the leftover sleep was not killed"
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)  # reaped, so no ResourceWarning leaks into a later test
        subprocess.run(["pkill", "-9", "-f", marker], check=False)

"""``squall serve`` as a user runs it: type a command at the console, get the result."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import ROOT, wait_status, write_config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(config: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--config", str(config)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, bufsize=1,
    )  # fmt: skip


def read_until(proc: subprocess.Popen[str], needle: str, timeout: float = 30) -> str:
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"{needle!r} never appeared in:\n{seen}"
        ready, _, _ = select.select([proc.stdout], [], [], remaining)
        if ready:
            line = proc.stdout.readline()
            assert line, f"serve exited before {needle!r}:\n{seen}"
            seen += line
    return seen


def test_console_runs_core_echo_and_quits(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path)
    config.write_text(
        config.read_text().replace("  enabled: false", f"  enabled: true\n  port: {port}")
    )
    proc = start_serve(config)
    try:
        assert proc.stdin is not None
        read_until(proc, "Squall console")
        proc.stdin.write("run core.echo message=hi\n")
        proc.stdin.flush()
        output = read_until(proc, "stdout: hi")
        assert "status: succeeded" in output
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            health = json.load(resp)
        assert health["status"] == "ok" and health["store"] == "sqlite"
        proc.stdin.write("bogus\n")
        proc.stdin.flush()
        read_until(proc, "unknown command 'bogus'")
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_sigterm_abandons_running_and_exits_zero(tmp_path: Path) -> None:
    config = write_config(tmp_path, "  shutdown_grace_seconds: 0.5\n")
    proc = start_serve(config)
    try:
        assert proc.stdin is not None
        read_until(proc, "Squall console")
        proc.stdin.write("run core.local cmd='sleep 60'\n")
        proc.stdin.flush()
        requested = read_until(proc, "requested")
        execution_id = requested.split("execution ", 1)[1].split()[0]
        wait_status(config, execution_id, "running")
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    got = subprocess.run(
        [sys.executable, "-m", "bot", "execution", "get", execution_id, "--json",
         "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert json.loads(got.stdout)["status"] == "abandoned"

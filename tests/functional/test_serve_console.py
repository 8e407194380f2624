"""``squall serve`` as a user runs it: type at the console chat, see the run card update."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import IO

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


class Output:
    """Lines of a child's output, read on a thread so waits can be bounded."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen = ""
        threading.Thread(target=self._pump, args=(proc.stdout,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        with contextlib.suppress(ValueError, OSError):  # the test closed the pipe: done
            for line in stream:
                self.lines.put(line)

    def until(self, needle: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        start = len(self.seen)
        while needle not in self.seen[start:]:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{needle!r} never appeared in:\n{self.seen}"
            with contextlib.suppress(queue.Empty):
                self.seen += self.lines.get(timeout=remaining)
        return self.seen[start:]


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()


def test_console_runs_core_echo_and_quits(tmp_path: Path) -> None:
    port = free_port()
    config = write_config(tmp_path)
    config.write_text(
        config.read_text().replace("  enabled: false", f"  enabled: true\n  port: {port}")
    )
    proc = start_serve(config)
    out = Output(proc)
    try:
        assert proc.stdin is not None
        out.until("Squall console")
        proc.stdin.write("run core.echo message=hi\n")
        proc.stdin.flush()
        output = out.until("core.echo (succeeded)")
        assert "execution " in output and "requested (core.echo)" in output
        assert "\n    hi\n" in out.until("· ")  # the card's code block, then its footer
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as resp:
            health = json.load(resp)
        assert health["status"] == "ok" and health["store"] == "sqlite"
        assert health["adapters"] == {"console": "connected"}
        assert health["delivery_failures"] == 0
        doctor = subprocess.run(
            [sys.executable, "-m", "bot", "doctor", "--config", str(config)],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert doctor.returncode == 0, doctor.stdout
        assert "ok    serve: running; adapters {'console': 'connected'}" in doctor.stdout
        proc.stdin.write("bogus\n")
        proc.stdin.flush()
        out.until("I don't know 'bogus'. Type help.")
        proc.stdin.write("!help\n")
        proc.stdin.flush()
        assert "echo {{message}}" in out.until("Built-in commands:")
        proc.stdin.write("!echo hello\n")
        proc.stdin.flush()
        out.until("I'll take it from here! Your execution ID for reference is")
        done = out.until("core.echo (succeeded)")
        assert "↻ updated" in done
        assert "hello" in out.until("· ")
        proc.stdin.write("quit\n")
        proc.stdin.flush()
        assert proc.wait(timeout=20) == 0
    finally:
        stop(proc)


def test_sigterm_abandons_running_and_exits_zero(tmp_path: Path) -> None:
    config = write_config(tmp_path, "  shutdown_grace_seconds: 0.5\n")
    proc = start_serve(config)
    out = Output(proc)
    try:
        assert proc.stdin is not None
        out.until("Squall console")
        proc.stdin.write("run core.local cmd='sleep 60'\n")
        proc.stdin.flush()
        requested = out.until("requested")
        execution_id = requested.split("execution ", 1)[1].split()[0]
        wait_status(config, execution_id, "running")
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        stop(proc)
    got = subprocess.run(
        [sys.executable, "-m", "bot", "execution", "get", execution_id, "--json",
         "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert json.loads(got.stdout)["status"] == "abandoned"


def test_sigterm_lets_running_work_finish_and_posts_its_result(tmp_path: Path) -> None:
    config = write_config(tmp_path, "  shutdown_grace_seconds: 30\n")
    proc = start_serve(config)
    out = Output(proc)
    try:
        assert proc.stdin is not None
        out.until("Squall console")
        proc.stdin.write("run core.local cmd='sleep 1.5; echo slept'\n")
        proc.stdin.flush()
        requested = out.until("requested")
        execution_id = requested.split("execution ", 1)[1].split()[0]
        wait_status(config, execution_id, "running")
        os.kill(proc.pid, signal.SIGTERM)
        finished = out.until("core.local (succeeded)")
        assert "↻ updated" in finished
        assert "    slept" in out.until("· ")
        assert proc.wait(timeout=20) == 0
    finally:
        stop(proc)

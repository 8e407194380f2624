"""``squall serve`` as a child process of a test: start it, read its output with bounded waits,
wait until ``/readyz`` answers, stop it."""

from __future__ import annotations

import contextlib
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from tests.conftest import ROOT


def start_serve(config: Path, *options: str) -> subprocess.Popen[str]:
    """``squall serve OPTIONS``, its stdin a pipe (the console chat), its output one pipe."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--config", str(config), *options],
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

    def everything(self) -> str:
        """All the output so far, for a failure message."""
        with contextlib.suppress(queue.Empty):
            while True:
                self.seen += self.lines.get_nowait()
        return self.seen


def type_line(proc: subprocess.Popen[str], line: str) -> None:
    """``line`` typed at the child's stdin (the console chat)."""
    assert proc.stdin is not None
    proc.stdin.write(line + "\n")
    proc.stdin.flush()


def stop(proc: subprocess.Popen[str]) -> None:
    """Kill the child (if still running) and close its pipes."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()


def terminate(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM (a clean shutdown), SIGKILL if it takes over 20 s; then close its pipes."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


def is_ready(base: str) -> bool:
    """Whether the listener at ``base`` (``http://127.0.0.1:PORT``) answers ``/readyz`` 200."""
    try:
        with urllib.request.urlopen(base + "/readyz", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def wait_ready(
    base: str, proc: subprocess.Popen[Any], output: Callable[[], str], timeout: float = 30
) -> None:
    """Until ``base`` is ready; fails with the child's ``output()`` if it exits or never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"serve exited:\n{output()}"
        if is_ready(base):
            return
        time.sleep(0.1)
    raise AssertionError(f"serve never became ready:\n{output()}")


@contextlib.contextmanager
def running_serve(config: Path, port: int) -> Iterator[subprocess.Popen[str]]:
    """``squall serve`` (output drained so it never blocks on a full pipe) until its listener
    on ``port`` is ready; at the end a SIGTERM must stop it cleanly (exit 0)."""
    proc = start_serve(config)
    out = Output(proc)
    try:
        wait_ready(f"http://127.0.0.1:{port}", proc, out.everything, timeout=60)
        yield proc
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        stop(proc)

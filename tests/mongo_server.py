"""A SecantusDB server (a MongoDB wire-protocol server, test-only, GPL: never a Squall
dependency) for the test session: one per session, on a free port, with in-memory storage.

``make test`` builds ``.venv-mongo`` with ``secantusdb``; pytest starts the server lazily (the
``mongo_url`` session fixture) and always stops it. It must never outlive the test run, even
when pytest itself is killed: the server runs in its own process group, pytest stops it at the
end (fixture finalizer, then ``atexit`` as a backstop), and the kernel sends it SIGKILL when the
process that started it dies (``PR_SET_PDEATHSIG``), which covers ``kill -9`` of pytest.

Stopping is SIGKILL: the data is in memory and thrown away anyway, and SecantusDB takes seconds
to honour SIGTERM/SIGINT. Its scratch folder (``:memory:`` still makes a WiredTiger home) is
kept in a temporary folder of ours (``TMPDIR``) and removed after the kill.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO

from tests.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / ".venv-mongo" / "bin" / "secantusd-py"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
_PR_SET_PDEATHSIG = 1


SCRATCH_PREFIX = "squall-secantus-"


def remove_stale_scratch() -> None:
    """Scratch folders of earlier sessions whose starter was SIGKILLed (the kernel killed their
    server, but nobody removed the folder): their name carries the starter's pid."""
    for folder in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*-*"):
        pid = folder.name[len(SCRATCH_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(folder, ignore_errors=True)


class MongoServerError(RuntimeError):
    """The test MongoDB server could not be started."""


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL it when the parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class MongoServer:
    def __init__(
        self, process: subprocess.Popen[bytes], port: int, log: IO[bytes], scratch: str
    ) -> None:
        self.process = process
        self.port = port
        self.log = log  # the server's stderr
        self.scratch = scratch

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        """Kill the server's whole process group and remove its scratch folder; idempotent."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT)
        self.log.close()
        shutil.rmtree(self.scratch, ignore_errors=True)


def start(server: Path = SERVER) -> MongoServer:
    """Start a server on a free loopback port and wait until it accepts connections."""
    if not server.exists():
        raise MongoServerError(
            f"{server} is missing: run `make .venv-mongo/.installed` (make test builds it)"
        )
    port = free_port()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - the server writes to it while it runs
    remove_stale_scratch()
    scratch = tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-")
    argv = [str(server), "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--storage-path", ":memory:", "--log-level", "WARNING"]
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=log,
        process_group=0,
        env={**os.environ, "TMPDIR": scratch},
        preexec_fn=_die_with_parent,
    )
    running = MongoServer(process, port, log, scratch)
    atexit.register(running.stop)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            error = log.read().decode(errors="replace")
            running.stop()
            raise MongoServerError(f"secantusd exited with {process.returncode}: {error[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            time.sleep(0.05)
            continue
        return running
    running.stop()
    raise MongoServerError(f"secantusd did not listen on port {port} within {START_TIMEOUT}s")

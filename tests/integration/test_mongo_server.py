"""The test session's MongoDB server never outlives the process that started it."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests import mongo_server
from tests.conftest import ROOT, group_alive, poll_until, process_alive

STARTER = (
    "from tests import mongo_server\n"
    "server = mongo_server.start()\n"
    "print(server.process.pid, server.scratch, flush=True)\n"
    "import time; time.sleep(120)\n"
)


async def test_the_server_dies_with_a_starter_killed_by_sigkill() -> None:
    starter = await asyncio.create_subprocess_exec(
        sys.executable, "-c", STARTER, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert starter.stdout is not None
        async with asyncio.timeout(30):
            pid, scratch = (await starter.stdout.readline()).decode().split()
        server_pid = int(pid)
        assert process_alive(server_pid)
        os.kill(starter.pid, signal.SIGKILL)  # no finalizer, no atexit: only the kernel is left
        await starter.wait()
        await poll_until(lambda: not group_alive(server_pid), timeout=10)
        assert Path(scratch).exists(), "the one thing a SIGKILLed starter cannot clean up"
        mongo_server.remove_stale_scratch()  # what the next session's start does
        assert not Path(scratch).exists()
    finally:
        if starter.returncode is None:
            starter.kill()
            await starter.wait()


def test_stop_ends_the_whole_process_group() -> None:
    server = mongo_server.start()
    pgid = os.getpgid(server.process.pid)
    assert pgid == server.process.pid, "the server leads its own group"
    assert os.listdir(server.scratch), "the server's scratch folder is ours"
    server.stop()
    server.stop()  # idempotent (atexit calls it again)
    assert not group_alive(pgid)
    assert not os.path.exists(server.scratch)

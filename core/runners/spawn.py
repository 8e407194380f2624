"""Start a child with its stdout/stderr as stream readers, and learn of its exit from a pidfd.

asyncio on Python 3.11 waits for every child in a thread of its own (``ThreadedChildWatcher``:
a thread started and joined per spawn, each waking the loop through the GIL); its pidfd watcher
is bound to one loop for the whole process, which several loops (tests, the errbot embedding)
cannot share. Here each child gets its own pidfd on the running loop instead: the exit is one
more readable file descriptor. Where pidfds are missing (Linux < 5.3, other systems, seccomp)
this falls back to ``asyncio.create_subprocess_exec``. Measured in ``bench/executions.py``
against raw ``bash -c true`` spawns in the same run.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Mapping, Sequence
from typing import IO, Protocol

__all__ = ["Child", "spawn"]

_READ_LIMIT = 64 * 1024


class Child(Protocol):
    """What ``run_process`` needs of a started child (``asyncio.subprocess.Process`` has it)."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    stdout: asyncio.StreamReader | None
    stderr: asyncio.StreamReader | None

    async def wait(self) -> int: ...


class _PidfdChild:
    def __init__(
        self, popen: subprocess.Popen[bytes], stdout: asyncio.StreamReader,
        stderr: asyncio.StreamReader, exited: asyncio.Future[int],
    ) -> None:  # fmt: skip
        self._popen = popen
        self.stdout: asyncio.StreamReader | None = stdout
        self.stderr: asyncio.StreamReader | None = stderr
        self._exited = exited

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)


def _pidfds_work() -> bool:
    if not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False
    return True


_PIDFDS = _pidfds_work()


async def spawn(argv: Sequence[str], *, cwd: str | None, env: Mapping[str, str]) -> Child:
    """Start ``argv`` (no shell) in a new session, stdin from /dev/null, stdout and stderr
    piped. Raises ``OSError`` when it cannot be started."""
    if not _PIDFDS:
        return await asyncio.create_subprocess_exec(
            *argv, cwd=cwd, env=dict(env), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
    loop = asyncio.get_running_loop()
    # Blocks only until the child execs (vfork): asyncio's own subprocess support calls the
    # same Popen on the loop.
    popen = subprocess.Popen(  # noqa: ASYNC220
        list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    try:
        pidfd = os.pidfd_open(popen.pid)
        exited: asyncio.Future[int] = loop.create_future()
        loop.add_reader(pidfd, _reap, loop, pidfd, popen, exited)
    except BaseException:
        popen.kill()  # only the leader: it has had no time to start others
        popen.wait()
        raise
    assert popen.stdout is not None and popen.stderr is not None  # both piped above
    stdout = await _reader(loop, popen.stdout)
    stderr = await _reader(loop, popen.stderr)
    return _PidfdChild(popen, stdout, stderr, exited)


async def _reader(loop: asyncio.AbstractEventLoop, pipe: IO[bytes]) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=_READ_LIMIT, loop=loop)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader, loop=loop), pipe)
    return reader


def _reap(
    loop: asyncio.AbstractEventLoop, pidfd: int, popen: subprocess.Popen[bytes],
    exited: asyncio.Future[int],
) -> None:  # fmt: skip
    """The pidfd became readable: the child exited; collect its status (never blocks now)."""
    loop.remove_reader(pidfd)
    os.close(pidfd)
    code = popen.wait()
    if not exited.done():
        exited.set_result(code)

"""Starting action processes: through the warmed fork server, or as a fresh interpreter.

Either way the caller gets an ``ActionProcess``: the pid (also the process group id, so
``kill_group`` reaches everything the action started) and a future of its return code.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.runners.python_host.capture import quiet
from core.runners.python_host.protocol import MAX_MESSAGE, decode, encode

log = logging.getLogger(__name__)

BOOTSTRAP = str(Path(__file__).with_name("bootstrap.py"))
# -I: no PYTHON* variables, no user site, no script dir on sys.path; bootstrap does the rest.
HOST_FLAGS = ("-I",)
STOP_TIMEOUT = 5.0


class HostUnavailable(Exception):
    """The fork server cannot take this execution; the caller falls back to a subprocess."""


class HostDied(Exception):
    """The fork server died while the action ran, so its exit status is unknown."""


@dataclass
class ActionProcess:
    pid: int
    returncode: asyncio.Future[int]


def kill_group(pid: int) -> None:
    """SIGKILL the action's process group (or just the pid if it has not setsid() yet)."""
    with contextlib.suppress(ProcessLookupError):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            os.kill(pid, signal.SIGKILL)


def host_argv(python: str, fallback_paths: Sequence[str]) -> list[str]:
    """The interpreter and bootstrap, with the paths it appends to its ``sys.path``."""
    argv = [python, *HOST_FLAGS, BOOTSTRAP]
    if fallback_paths:
        argv += ["--fallback", os.pathsep.join(fallback_paths)]
    return argv


async def spawn_once(
    python: str, fds: Sequence[int], fallback_paths: Sequence[str] = ()
) -> ActionProcess:
    """The fallback: one fresh interpreter per execution, same request/result protocol.

    ``fds`` beyond stdio (the datastore socket) are inherited and named on the command line;
    the child moves them to fd 3 and up, as the fork server's children have them.
    """
    extra = list(fds[3:])
    proc = await asyncio.create_subprocess_exec(
        *host_argv(python, fallback_paths),
        "once",
        *(str(fd) for fd in extra),
        stdin=fds[0],
        stdout=fds[1],
        stderr=fds[2],
        pass_fds=extra,
        start_new_session=True,
    )
    return ActionProcess(proc.pid, asyncio.ensure_future(proc.wait()))


@dataclass
class _Pending:
    started: asyncio.Future[int]
    exited: asyncio.Future[int]
    abandoned: bool = False  # the launching coroutine was cancelled: kill it once it starts
    pid: int | None = None


class ForkServer:
    """Squall's handle on one fork server process (see ``server.py`` for the other side)."""

    def __init__(
        self,
        python: str = sys.executable,
        start_timeout: float = 30.0,
        fallback_paths: Sequence[str] = (),
    ) -> None:
        self._python = python
        self._fallback_paths = tuple(fallback_paths)
        self._start_timeout = start_timeout
        self._sock: socket.socket | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, _Pending] = {}
        self._ids = itertools.count(1)
        self._send_lock = asyncio.Lock()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def busy(self) -> bool:
        """Some run it launched has not exited yet."""
        return bool(self._pending)

    @property
    def alive(self) -> bool:
        return self._reader is not None and not self._reader.done()

    async def start(self) -> None:
        try:
            await self._spawn()
            ready = decode(await asyncio.wait_for(self._recv(), self._start_timeout))
            if ready.get("op") != "ready":
                raise ValueError(f"unexpected greeting {ready!r}")
        except (OSError, ValueError, TimeoutError) as e:
            await self.close()
            raise HostUnavailable(f"the Python fork server did not start: {e!r}") from e
        except BaseException:
            await self.close()
            raise
        self._reader = asyncio.create_task(self._read())

    async def _spawn(self) -> None:
        # SOCK_SEQPACKET keeps each message, and the fds sent with it, apart.
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._sock = ours
        ours.setblocking(False)
        with theirs:
            self._proc = await asyncio.create_subprocess_exec(
                *host_argv(self._python, self._fallback_paths),
                "serve",
                str(theirs.fileno()),
                pass_fds=[theirs.fileno()],
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
            )

    async def _recv(self) -> bytes:
        assert self._sock is not None
        return await asyncio.get_running_loop().sock_recv(self._sock, MAX_MESSAGE)

    async def launch(self, fds: Sequence[int]) -> ActionProcess:
        """Ask the server to fork a child on ``fds`` (stdin, stdout, stderr)."""
        if not self.alive:
            raise HostUnavailable("the Python fork server is not running")
        loop = asyncio.get_running_loop()
        request_id = next(self._ids)
        pending = _Pending(_future(loop), _future(loop))
        self._pending[request_id] = pending
        try:
            await self._send(encode({"op": "run", "id": request_id}), fds)
        except BaseException:
            del self._pending[request_id]
            raise
        try:
            pid = await pending.started
        except BaseException:
            pending.abandoned = True
            if pending.pid is not None:
                kill_group(pending.pid)
            raise
        return ActionProcess(pid, pending.exited)

    async def _send(self, data: bytes, fds: Sequence[int]) -> None:
        assert self._sock is not None
        async with self._send_lock:
            while True:
                try:
                    socket.send_fds(self._sock, [data], list(fds))
                    return
                except BlockingIOError:
                    await _writable(self._sock)
                except OSError as e:
                    raise HostUnavailable(f"the Python fork server is gone: {e!r}") from e

    async def _read(self) -> None:
        try:
            while data := await self._recv():
                self._dispatch(decode(data))
        except (OSError, ValueError) as e:
            log.warning("lost the Python fork server: %r", e)
        finally:
            self._fail_pending()

    def _dispatch(self, message: dict[str, Any]) -> None:
        pending = self._pending.get(message.get("id", -1))
        if pending is None:
            return
        op = message.get("op")
        if op == "started":
            pending.pid = int(message["pid"])
            if pending.abandoned:
                kill_group(pending.pid)
            _resolve(pending.started, pending.pid)
        elif op == "error":
            del self._pending[message["id"]]
            _fail(pending.started, HostUnavailable(str(message.get("message"))))
        elif op == "exit":
            del self._pending[message["id"]]
            _resolve(pending.exited, int(message["returncode"]))

    def _fail_pending(self) -> None:
        pending, self._pending = self._pending, {}
        for entry in pending.values():
            _fail(entry.started, HostUnavailable("the Python fork server exited"))
            if entry.pid is not None:  # only launched runs have someone awaiting ``exited``
                _fail(entry.exited, HostDied("the Python fork server died during the run"))

    async def close(self) -> None:
        """Stop the server. Runs still in flight end with ``HostDied``."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._fail_pending()
        if self._sock is not None:
            self._sock.close()  # EOF tells the server to exit
        if self._proc is not None:
            await _stop(self._proc)


async def _writable(sock: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_writer(sock, wake)
    try:
        await ready
    finally:
        loop.remove_writer(sock)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    try:
        await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


def _future(loop: asyncio.AbstractEventLoop) -> asyncio.Future[int]:
    # A run that was cancelled never awaits its futures; don't log their errors as unretrieved.
    return quiet(loop.create_future())


def _resolve(future: asyncio.Future[int], value: int) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future[int], error: Exception) -> None:
    if not future.done():
        future.set_exception(error)

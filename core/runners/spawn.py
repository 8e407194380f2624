"""Start a child in a new session; the event loop reads its pipes and learns of its exit itself.

The loop watches stdout and stderr (raw ``os.read`` in a reader callback, no transport,
protocol or stream reader, no task per pipe). A child's exit closes both pipes, so when both
reach end of file the child has usually exited already: a non-blocking ``waitpid`` collects it
then, and only a child still running at that point (it closed its output, or someone waits for
it after a kill) gets a pidfd on the loop, readable when it exits. asyncio on Python 3.11
would instead wait for every child in a thread of its own (``ThreadedChildWatcher``: a thread
started and joined per spawn, each waking the loop through the GIL), and its pidfd watcher is
bound to one loop for the whole process, which several loops (tests, the errbot embedding)
cannot share.
Where pidfds are missing (Linux < 5.3, other systems, seccomp) one thread per child waits for
the exit instead, as asyncio's own watcher does. Measured in ``bench/executions.py`` against
raw ``bash -c true`` spawns in the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

__all__ = ["Child", "Sink", "spawn"]

T = TypeVar("T")

_CHUNK = 64 * 1024
# Called with each chunk read from a pipe (never empty).
Sink = Callable[[bytes], None]


class Child:
    """A started child: its pid, its exit, and whether its pipes reached end of file."""

    def __init__(self, loop: asyncio.AbstractEventLoop, popen: subprocess.Popen[bytes]) -> None:
        self._loop = loop
        self._popen = popen
        self._open_pipes: set[int] = set()
        self.exited: asyncio.Future[int] = loop.create_future()
        # Exited and both pipes closed: everything it wrote has been read.
        self.finished: asyncio.Future[None] = loop.create_future()
        self.drained: asyncio.Future[None] = loop.create_future()
        self._watching_exit = False

    @property
    def pid(self) -> int:
        return self._popen.pid

    @property
    def returncode(self) -> int | None:
        return self._popen.returncode

    async def wait(self) -> int:
        self._watch_exit()
        return await asyncio.shield(self.exited)

    def close_pipes(self) -> None:
        """Stop reading pipes still open (a process that left the group holds them)."""
        for fd in list(self._open_pipes):
            self._close_pipe(fd)

    def _read_pipe(self, fd: int, sink: Sink) -> None:
        try:
            chunk = os.read(fd, _CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # EIO and the like: treat as end of file
            chunk = b""
        if chunk:
            sink(chunk)
        else:
            self._close_pipe(fd)

    def watch_pipe(self, fd: int, sink: Sink) -> None:
        """Read ``fd`` (ours now: closed at end of file) into ``sink`` as data arrives."""
        os.set_blocking(fd, False)
        self._open_pipes.add(fd)
        self._loop.add_reader(fd, self._read_pipe, fd, sink)

    def _close_pipe(self, fd: int) -> None:
        self._loop.remove_reader(fd)
        os.close(fd)
        self._open_pipes.discard(fd)
        if not self._open_pipes:
            _resolve(self.drained, None)
            if not self.exited.done() and (code := self._popen.poll()) is not None:
                _resolve(self.exited, code)  # the common case: it exited, closing them
            self._watch_exit()
            self._check_finished()

    def _on_exit(self, code: int) -> None:
        _resolve(self.exited, code)
        self._check_finished()

    def _check_finished(self) -> None:
        if self.exited.done() and self.drained.done():
            _resolve(self.finished, None)

    # -- learning of the exit --------------------------------------------------------------
    def _watch_exit(self) -> None:
        """Resolve ``exited`` (and reap the child) when it exits, unless that is known."""
        if self.exited.done() or self._watching_exit:
            return
        self._watching_exit = True
        pidfd = _open_pidfd(self.pid) if _PIDFDS else None
        if pidfd is not None:
            self._loop.add_reader(pidfd, self._reap_pidfd, pidfd)
        else:
            name = f"squall-wait-{self.pid}"
            threading.Thread(target=self._wait_in_thread, name=name, daemon=True).start()

    def _reap_pidfd(self, pidfd: int) -> None:
        """The pidfd became readable: the child exited; collect its status (never blocks)."""
        self._loop.remove_reader(pidfd)
        os.close(pidfd)
        self._on_exit(self._popen.wait())

    def _wait_in_thread(self) -> None:
        code = self._popen.wait()
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            self._loop.call_soon_threadsafe(self._on_exit, code)


def _resolve(future: asyncio.Future[T], value: T) -> None:
    if not future.done():
        future.set_result(value)


def _open_pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except OSError:  # out of descriptors, say: a thread waits instead
        return None


def _pidfds_work() -> bool:
    if not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False
    return True


_PIDFDS = _pidfds_work()


def spawn(
    argv: Sequence[str], *, cwd: str | None, env: Mapping[str, str], stdout: Sink, stderr: Sink
) -> Child:
    """Start ``argv`` (no shell) in a new session, stdin from /dev/null; what it writes on
    stdout and stderr goes to the two sinks as it arrives. Raises ``OSError`` when it cannot be
    started (missing file, bad ``cwd``...)."""
    loop = asyncio.get_running_loop()
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    try:
        popen = _popen(argv, cwd, env, out_write, err_write)
    except BaseException:
        for fd in (out_read, err_read):
            os.close(fd)
        raise
    finally:
        os.close(out_write)
        os.close(err_write)
    child = Child(loop, popen)
    child.watch_pipe(out_read, stdout)
    child.watch_pipe(err_read, stderr)
    return child


def _popen(
    argv: Sequence[str], cwd: str | None, env: Mapping[str, str], stdout: int, stderr: int
) -> subprocess.Popen[bytes]:
    program = _known_program(argv[0], env.get("PATH", os.defpath))
    if program is not None:
        try:
            return _start(argv, program, cwd, env, stdout, stderr)
        except OSError:  # the remembered file is gone or changed (or cwd is bad): search
            _PROGRAMS.clear()  # again, as a shell does after ``hash -r``
    return _start(argv, None, cwd, env, stdout, stderr)


def _start(
    argv: Sequence[str], program: str | None, cwd: str | None, env: Mapping[str, str],
    stdout: int, stderr: int,
) -> subprocess.Popen[bytes]:  # fmt: skip
    # Blocks only until the child execs (vfork): asyncio's own subprocess support calls the
    # same Popen on the loop. Our own pipes: no file objects for Popen to wrap.
    return subprocess.Popen(
        list(argv), executable=program, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
        stdout=stdout, stderr=stderr, start_new_session=True,
    )  # fmt: skip


# Where a command name was found on a PATH, as a shell's command hash remembers it: searching
# again for every run meant a failed execve per PATH entry before the right one, in the vfork
# child while this process waits, and the list of candidates built in Python.
_PROGRAMS: dict[tuple[str, str], str] = {}
_MAX_PROGRAMS = 256


def _known_program(name: str, path: str) -> str | None:
    """The file ``name`` runs as on ``path``; None: let Popen search (a path, a relative PATH
    entry, or nothing executable found: Popen then raises the error a search gives)."""
    if "/" in name:
        return None
    found = _PROGRAMS.get((name, path))
    if found is not None:
        return found
    for folder in path.split(os.pathsep):
        if not folder.startswith("/"):
            return None  # resolved against the child's cwd: not ours to remember
        candidate = os.path.join(folder, name)
        if os.access(candidate, os.X_OK) and os.path.isfile(candidate):
            if len(_PROGRAMS) >= _MAX_PROGRAMS:
                _PROGRAMS.clear()
            _PROGRAMS[name, path] = candidate
            return candidate
    return None

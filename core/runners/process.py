"""Run one subprocess in its own process group, with capped output, timeout and cancel.

Every runner that starts a process goes through :func:`run_process`, so killing "the action"
always means killing its whole process group: background jobs (``sleep 300 &``) die with it,
and so does a process that left the group with ``setsid`` (found by the execution id in its
environment).
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from core.runners.base import OutputSeen, ProcessStarted
from core.runners.output import cap_output
from core.runners.spawn import Child, spawn

# Set by the execution service for every action process; found again in /proc on a kill.
EXECUTION_MARKER = "ST2_ACTION_EXECUTION_ID"
# st2 reports a timed-out action with this return code (SIGKILL).
TIMEOUT_RETURN_CODE = -9
# After SIGKILL the pipes close at once unless a process that left the group (setsid) still
# holds them; don't wait for such a process forever.
_DRAIN_AFTER_KILL = 2.0


@dataclass(frozen=True)
class ProcessOutcome:
    stdout: str
    stderr: str
    return_code: int
    timed_out: bool
    canceled: bool


@dataclass
class CappedBuffer:
    """Bytes kept from a stream, and how many were read but dropped over the limit."""

    limit: int
    kept: bytearray = field(default_factory=bytearray)
    dropped: int = 0

    def add(self, chunk: bytes) -> None:
        room = max(0, self.limit - len(self.kept))
        self.kept += chunk[:room]
        self.dropped += max(0, len(chunk) - room)

    def text(self) -> str:
        return cap_output(bytes(self.kept), self.limit, self.dropped)


async def run_process(
    argv: Sequence[str],
    *,
    cwd: str | None,
    env: Mapping[str, str],
    # Not asyncio.timeout(): expiry must kill the process group and still return its output.
    timeout: float | None,
    cancel: asyncio.Event,
    output_limit: int,
    on_start: ProcessStarted | None,
    on_output: OutputSeen | None = None,
) -> ProcessOutcome:
    """Run ``argv`` (no shell) and return its output, exit code and how it ended.

    Raises ``OSError`` when the program cannot be started (missing file, bad ``cwd``...).
    """
    if cancel.is_set():
        return ProcessOutcome("", "", TIMEOUT_RETURN_CODE, timed_out=False, canceled=True)
    out = _Capture(CappedBuffer(output_limit), "stdout", on_output)
    err = _Capture(CappedBuffer(output_limit), "stderr", on_output)
    # A new session: the child's pid is also the id of a group we can kill (core.runners.spawn).
    proc = spawn(argv, cwd=cwd, env=env, stdout=out.add, stderr=err.add)
    try:
        if on_start is not None:
            await on_start(proc.pid)
        finished = await _wait_finished(proc, timeout, cancel)
    except BaseException:
        # Our caller was canceled (or on_start failed): never leave the group running.
        _kill_group(proc.pid, env)
        await _reap(proc)
        raise
    if finished:
        return ProcessOutcome(out.text(), err.text(), _return_code(proc), False, False)
    _kill_group(proc.pid, env)
    await _reap(proc)
    timed_out = not cancel.is_set()
    code = TIMEOUT_RETURN_CODE if timed_out else _return_code(proc)
    return ProcessOutcome(out.text(), err.text(), code, timed_out, canceled=not timed_out)


class _Capture:
    """One pipe's output: kept up to the limit, and shown live while nothing was dropped."""

    def __init__(self, buffer: CappedBuffer, name: str, on_output: OutputSeen | None) -> None:
        self._buffer = buffer
        self._name = name
        self._on_output = on_output
        # Incremental: a UTF-8 character split across two reads is shown whole, once.
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace") if on_output else None

    def add(self, chunk: bytes) -> None:
        self._buffer.add(chunk)
        if self._on_output is not None and self._decoder is not None and not self._buffer.dropped:
            self._on_output(self._name, self._decoder.decode(chunk))

    def text(self) -> str:
        return self._buffer.text()


async def _wait_finished(proc: Child, seconds: float | None, cancel: asyncio.Event) -> bool:
    """True when the process exited and both pipes closed; False on timeout or cancel.

    A background job that keeps stdout open keeps the action running, as in st2; the timeout
    bounds that.
    """
    if cancel.is_set():
        return False
    canceled = asyncio.ensure_future(cancel.wait())
    try:
        await asyncio.wait(
            (proc.finished, canceled), timeout=seconds, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        canceled.cancel()
    return proc.finished.done()


def _kill_group(pgid: int, env: Mapping[str, str] | None = None) -> None:
    # The group outlives its leader while any member is alive, so the id cannot be reused yet.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    marker = (env or {}).get(EXECUTION_MARKER)
    if marker:
        kill_marked(execution_marker(marker))


def execution_marker(execution_id: str) -> bytes:
    """The environment entry every process of this execution inherits."""
    return f"{EXECUTION_MARKER}={execution_id}".encode()


def kill_marked(*entries: bytes) -> int:
    """SIGKILL every process whose environment holds one of ``entries`` (``NAME=value``); how
    many. One pass over /proc, however many entries.

    A process that called ``setsid`` left the group (and the session) killpg reaches, but it
    inherited the execution id in its environment. Linux only (/proc); elsewhere, nothing.
    """
    wanted = set(entries)
    killed = 0
    me = os.getpid()
    with contextlib.suppress(OSError):
        pids = [int(name) for name in os.listdir("/proc") if name.isdigit()]
        for pid in pids:
            if pid == me:
                continue
            try:
                with open(f"/proc/{pid}/environ", "rb") as environ:
                    found = not wanted.isdisjoint(environ.read().split(b"\0"))
            except OSError:  # gone meanwhile, or not ours to read
                continue
            if found:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
    return killed


async def _reap(proc: Child) -> None:
    """Wait for the killed leader, and briefly for the pipes to close."""
    await proc.wait()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(proc.drained), _DRAIN_AFTER_KILL)
    proc.close_pipes()


def _return_code(proc: Child) -> int:
    return proc.returncode if proc.returncode is not None else TIMEOUT_RETURN_CODE

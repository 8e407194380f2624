"""One command on one connection: capped output, timeout and cancel that kill the remote group."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from core.runners.process import TIMEOUT_RETURN_CODE, CappedBuffer
from core.runners.remote.command import Sudo, kill_group_command, parse_group_line
from core.runners.remote.sshlib import asyncssh

logger = logging.getLogger(__name__)
_CHUNK = 64 * 1024
# Bounds on the clean-up steps after a timeout or cancel, so a dead host cannot hang them.
_KILL_SECONDS = 10.0
_DRAIN_SECONDS = 2.0
# The group id is the command's first output: when a cancel comes before it arrived, it is on
# its way (the process may already run), so wait this long for it before killing.
_GROUP_ID_SECONDS = 5.0


@dataclass(frozen=True)
class RemoteOutcome:
    stdout: str
    stderr: str
    return_code: int
    timed_out: bool
    canceled: bool


@dataclass
class _Streams:
    out: CappedBuffer
    err: CappedBuffer
    pgid: int | None = None
    # Set once the first stdout line (the group id, or not) has been read.
    first_line: asyncio.Event = field(default_factory=asyncio.Event)


async def run_remote(
    conn: asyncssh.SSHClientConnection,
    command: str,
    *,
    sudo: Sudo,
    timeout: float | None,
    cancel: asyncio.Event,
    output_limit: int,
) -> RemoteOutcome:
    """Run ``command`` (built by ``remote_command``) and return how it ended."""
    if cancel.is_set():
        return RemoteOutcome("", "", TIMEOUT_RETURN_CODE, timed_out=False, canceled=True)
    proc = await conn.create_process(command, encoding=None)
    if stdin := sudo.stdin():
        proc.stdin.write(stdin)
    proc.stdin.write_eof()
    streams = _Streams(CappedBuffer(output_limit), CappedBuffer(output_limit))
    readers = [
        asyncio.create_task(_pump_first(proc.stdout, streams)),
        asyncio.create_task(_pump(proc.stderr, streams.err)),
    ]
    try:
        finished = await _wait_finished(proc, readers, timeout, cancel)
    except BaseException:
        await _stop(conn, proc, readers, streams, sudo)
        raise
    if finished:
        code = proc.returncode if proc.returncode is not None else TIMEOUT_RETURN_CODE
        return RemoteOutcome(streams.out.text(), streams.err.text(), code, False, False)
    await _stop(conn, proc, readers, streams, sudo)
    timed_out = not cancel.is_set()
    return RemoteOutcome(
        streams.out.text(), streams.err.text(), TIMEOUT_RETURN_CODE, timed_out, not timed_out
    )


async def _pump_first(stream: asyncssh.SSHReader[bytes], streams: _Streams) -> None:
    """The group-id line, then the rest of stdout as the action's output."""
    try:
        first = await stream.readline()
    finally:
        streams.first_line.set()
    streams.pgid = parse_group_line(first)
    if streams.pgid is None:
        streams.out.add(first)  # the wrapper never ran (no setsid?): keep what the host said
    await _pump(stream, streams.out)


async def _pump(stream: asyncssh.SSHReader[bytes], capture: CappedBuffer) -> None:
    while chunk := await stream.read(_CHUNK):
        capture.add(chunk)


async def _wait_finished(
    proc: asyncssh.SSHClientProcess[bytes],
    readers: list[asyncio.Task[None]],
    seconds: float | None,
    cancel: asyncio.Event,
) -> bool:
    """True when the command exited and its output ended; False on timeout or cancel."""
    done = asyncio.ensure_future(_exited(proc, readers))
    canceled = asyncio.ensure_future(cancel.wait())
    try:
        await asyncio.wait({done, canceled}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        canceled.cancel()
        if not done.done():
            done.cancel()
    return done.done() and not done.cancelled()


async def _exited(
    proc: asyncssh.SSHClientProcess[bytes], readers: list[asyncio.Task[None]]
) -> None:
    await asyncio.shield(asyncio.gather(*readers))
    await proc.wait_closed()


async def _stop(
    conn: asyncssh.SSHClientConnection,
    proc: asyncssh.SSHClientProcess[bytes],
    readers: list[asyncio.Task[None]],
    streams: _Streams,
    sudo: Sudo,
) -> None:
    """Kill the remote group from a second channel, then close this one."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(streams.first_line.wait(), _GROUP_ID_SECONDS)
    pgid = streams.pgid
    if pgid is not None:
        try:
            await asyncio.wait_for(
                conn.run(kill_group_command(pgid, sudo), input=sudo.stdin() or None,
                         encoding=None, check=False),
                _KILL_SECONDS,
            )  # fmt: skip
        except (OSError, asyncssh.Error, TimeoutError) as exc:
            logger.warning("could not kill remote process group %s: %s", pgid, exc)
    proc.close()
    _, pending = await asyncio.wait(readers, timeout=_DRAIN_SECONDS)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(proc.wait_closed(), _DRAIN_SECONDS)

"""Squall's side of one action's pipes: feed the request on stdin, collect stdout and stderr.

The pipes are made here rather than by a subprocess API because the fork server path hands
the child's ends to another process (SCM_RIGHTS); both paths then read them the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from typing import TypeVar

from core.runners.output import cap_output
from core.runners.python_host.protocol import DELIMITER

CHUNK = 1 << 16
T = TypeVar("T")
_DELIM = DELIMITER.encode()


class CappedBuffer:
    """Keeps the first ``limit`` bytes and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.dropped = 0

    def feed(self, chunk: bytes) -> None:
        room = max(0, self.limit - len(self.data))
        self.data += chunk[:room]
        self.dropped += max(0, len(chunk) - room)

    def text(self) -> str:
        return cap_output(bytes(self.data), self.limit, self.dropped)


class ResultSplitter:
    """Routes stdout into the action's own output and the result block between delimiters.

    Streaming, so the result is found even when the action printed more than the output cap,
    and a delimiter split across two reads still matches.
    """

    def __init__(self, output: CappedBuffer, result_limit: int) -> None:
        self.output = output
        self.result = CappedBuffer(result_limit)
        self._pending = bytearray()
        self._delimiters_seen = 0

    def _sink(self) -> CappedBuffer:
        return self.result if self._delimiters_seen == 1 else self.output

    def feed(self, chunk: bytes) -> None:
        self._pending += chunk
        while self._delimiters_seen < 2 and (i := self._pending.find(_DELIM)) >= 0:
            self._sink().feed(bytes(self._pending[:i]))
            del self._pending[: i + len(_DELIM)]
            self._delimiters_seen += 1
        # Hold back what could be the start of a delimiter until the next read decides.
        keep = len(_DELIM) - 1 if self._delimiters_seen < 2 else 0
        if (flush := len(self._pending) - keep) > 0:
            self._sink().feed(bytes(self._pending[:flush]))
            del self._pending[:flush]

    def close(self) -> None:
        if self._delimiters_seen != 1:  # an unterminated result block is dropped
            self._sink().feed(bytes(self._pending))
        self._pending.clear()

    @property
    def payload(self) -> bytes | None:
        return bytes(self.result.data) if self._delimiters_seen == 2 else None

    @property
    def result_truncated(self) -> bool:
        return self.result.dropped > 0


class Capture:
    """The three pipes of one execution and the tasks that feed and drain them."""

    def __init__(self, request: bytes, output_limit: int, result_limit: int) -> None:
        self._open: set[int] = set()
        stdin_r, stdin_w = self._pipe()
        stdout_r, stdout_w = self._pipe()
        stderr_r, stderr_w = self._pipe()
        self.child_fds = (stdin_r, stdout_w, stderr_w)
        self.stdout = ResultSplitter(CappedBuffer(output_limit), result_limit)
        self.stderr = CappedBuffer(output_limit)
        self._feeder = asyncio.create_task(self._feed(stdin_w, request))
        self._drains = [
            asyncio.create_task(self._drain(stdout_r, self.stdout.feed)),
            asyncio.create_task(self._drain(stderr_r, self.stderr.feed)),
        ]
        # Done once both pipes hit EOF: every process holding them (grandchildren too) is gone.
        self.drained = quiet(asyncio.gather(*self._drains))

    def _pipe(self) -> tuple[int, int]:
        r, w = os.pipe()
        self._open.update((r, w))
        return r, w

    def _close(self, fd: int) -> None:
        if fd in self._open:
            self._open.discard(fd)
            os.close(fd)

    def release_child_fds(self) -> None:
        """Drop our copies of the child's ends once it has them, so EOF can arrive."""
        for fd in self.child_fds:
            self._close(fd)

    async def finish(self, drain_timeout: float) -> None:
        """Read to EOF, but give up after ``drain_timeout``: after a kill, a grandchild that
        left the process group may still hold the pipes."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.drained), drain_timeout)
        await self.abort()
        self.stdout.close()

    async def abort(self) -> None:
        tasks = [self._feeder, *self._drains]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for fd in list(self._open):
            self._close(fd)

    async def _feed(self, fd: int, data: bytes) -> None:
        os.set_blocking(fd, False)
        view = memoryview(data)
        try:
            while view:
                try:
                    view = view[os.write(fd, view) :]
                except BlockingIOError:
                    await _fd_ready(fd, writable=True)
        except BrokenPipeError:
            pass  # the child died before reading its request; its exit code tells the story
        finally:
            self._close(fd)  # EOF ends the child's request read

    async def _drain(self, fd: int, sink: Callable[[bytes], None]) -> None:
        os.set_blocking(fd, False)
        while True:
            try:
                chunk = os.read(fd, CHUNK)
            except BlockingIOError:
                await _fd_ready(fd, writable=False)
                continue
            if not chunk:
                return
            sink(chunk)


def quiet(future: asyncio.Future[T]) -> asyncio.Future[T]:
    """Mark ``future``'s outcome as seen: a gather whose children were cancelled ends with a
    CancelledError that asyncio would otherwise log as "never retrieved"."""
    future.add_done_callback(lambda f: f.cancelled() or f.exception())
    return future


async def _fd_ready(fd: int, *, writable: bool) -> None:
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    if writable:
        loop.add_writer(fd, wake)
    else:
        loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        if writable:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)

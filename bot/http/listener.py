"""The HTTP listener with connection limits (security.md row 39).

aiohttp alone lets a client hold a socket forever by sending headers one byte at a time, by
never finishing a body, or by connecting and saying nothing; and with a low file limit a few
hundred such sockets make every accept fail (asyncio then logs a traceback per attempt). Every
connection goes through ``_Guarded``, a thin protocol in front of aiohttp's: headers must be
complete within ``header_timeout_seconds`` of the request's first byte (or of the connection),
a body of known length within ``body_timeout_seconds`` after its headers, at most
``max_connections`` are open (more are answered 503 and closed), and an idle keep-alive
connection closes after ``keepalive_timeout_seconds`` (aiohttp's own timer). Limit hits and
"too many open files" are logged at most once per ``LOG_INTERVAL`` with a count, never as a
traceback per event. Bodies are not decompressed by aiohttp (its decoder can hang on a
truncated stream); the webhook reader decompresses with a cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from bot.settings.schema import HttpSettings

logger = logging.getLogger(__name__)

LOG_INTERVAL = 60.0
# Set on apps served here: request bodies arrive still encoded (see bot.http.webhooks).
RAW_BODIES: web.AppKey[bool] = web.AppKey("raw_bodies", bool)
_HEADER_END = b"\r\n\r\n"
# Matched on the lower-cased header block. ``\r?``: a line ends with CRLF, and ``$`` stops
# before the ``\n`` only (without it a Content-Length was found only on the last line).
_CONTENT_LENGTH = re.compile(rb"^content-length:[ \t]*([0-9]+)[ \t]*\r?$", re.M)
_CHUNKED = re.compile(rb"^transfer-encoding:.*chunked", re.M)
_CHUNKED_END = b"0\r\n\r\n"
_REFUSED = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
_MAX_HEADER_BYTES = 64 * 1024
_MAX_LENGTH_DIGITS = 18
_EARLY = 0.01  # seconds


class RateLimitedLog:
    """One log line per interval per kind, saying how many were not logged in between."""

    def __init__(self, interval: float = LOG_INTERVAL, clock: Callable[[], float] = time.monotonic):
        self.interval = interval
        self.clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, kind: str, message: str, *args: Any) -> None:
        now = self.clock()
        last = self._last.get(kind)
        if last is not None and now - last < self.interval:
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            return
        self._last[kind] = now
        suppressed = self._suppressed.pop(kind, 0)
        extra = f" ({suppressed} more since the last report)" if suppressed else ""
        logger.warning(message + extra, *args)


class ConnectionGuard:
    """Counts connections and builds a guarded protocol around each of aiohttp's."""

    def __init__(self, inner: Callable[[], asyncio.Protocol], settings: HttpSettings) -> None:
        self.inner = inner
        self.settings = settings
        self.active = 0
        self.log = RateLimitedLog()

    def __call__(self) -> _Guarded:
        return _Guarded(self)


class _Guarded(asyncio.Protocol):
    """Forwards to aiohttp's protocol, watching the request stream for the limits."""

    def __init__(self, guard: ConnectionGuard) -> None:
        self.guard = guard
        self.inner: Any = None
        self.transport: asyncio.Transport | None = None
        # One timer per connection, not one per request: arming sets ``deadline`` (and a
        # timer only when none would fire by then); a timer firing before the deadline waits on.
        self.timer: asyncio.TimerHandle | None = None
        self.deadline: float | None = None
        self.waiting_for = ("headers", 0.0)  # what the deadline is for, and its length
        self.state = "headers"  # headers → body (known length or chunked) → idle → headers
        self.header = b""
        self.remaining = 0
        self.tail = b""

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        settings = self.guard.settings
        if self.guard.active >= settings.max_connections:
            self.guard.log.warning(
                "connections", "connection limit reached (http.max_connections: %d): refusing "
                "new connections", settings.max_connections,
            )  # fmt: skip
            transport.write(_REFUSED)
            transport.close()
            return
        self.guard.active += 1
        self.inner = self.guard.inner()
        self.inner.connection_made(transport)
        self._arm(settings.header_timeout_seconds, "headers")

    def data_received(self, data: bytes) -> None:
        if self.inner is None:
            return
        self._watch(data)
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return None if self.inner is None else self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.inner is None:
            return
        self.guard.active -= 1
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()

    # -- the watch -------------------------------------------------------------------------
    def _watch(self, data: bytes) -> None:
        while data:
            if self.state == "idle":
                # A new request's first byte. Its header deadline is armed only if its headers
                # do not complete in this same chunk (the common case needs no timer work).
                self.state = "headers"
                data = self._headers(data)
                if self.state == "headers":
                    self._arm(self.guard.settings.header_timeout_seconds, "headers")
            elif self.state == "headers":
                data = self._headers(data)
            elif self.state == "body":
                used = min(self.remaining, len(data))
                self.remaining -= used
                data = data[used:]
                if self.remaining == 0:
                    self._idle()
            else:  # chunked: its end is the zero-length chunk
                self.tail = (self.tail + data)[-len(_CHUNKED_END) :]
                data = b""
                if self.tail == _CHUNKED_END:
                    self._idle()

    def _headers(self, data: bytes) -> bytes:
        seen = len(self.header)
        self.header += data
        end = self.header.find(_HEADER_END, max(0, seen - 3))
        if end < 0:
            self.header = self.header[-_MAX_HEADER_BYTES:]
            return b""
        block, rest = self.header[:end], self.header[end + len(_HEADER_END) :]
        self.header = b""
        block = block.lower()
        length = _CONTENT_LENGTH.search(block)
        if b"chunked" in block and _CHUNKED.search(block):
            self.state, self.tail = "chunked", b""
        elif length is not None and (size := _length(length.group(1))) > 0:
            self.state, self.remaining = "body", size
            if self.remaining <= len(rest):
                return rest  # the body came with its headers: nothing left to time
        else:
            self._idle()
            return rest
        self._arm(self.guard.settings.body_timeout_seconds, "body")
        return rest

    def _idle(self) -> None:
        # Between requests aiohttp's keep-alive timer decides; the next byte re-arms ours.
        self.state = "idle"
        self._disarm()

    def _arm(self, seconds: float, what: str) -> None:
        loop = asyncio.get_running_loop()
        self.deadline = loop.time() + seconds
        self.waiting_for = (what, seconds)
        if self.timer is not None and self.timer.when() > self.deadline:
            self.timer.cancel()  # would fire too late for this deadline
            self.timer = None
        if self.timer is None:
            self.timer = loop.call_at(self.deadline, self._check)

    def _disarm(self) -> None:
        self.deadline = None  # a pending timer finds nothing to do

    def _check(self) -> None:
        self.timer = None
        if self.deadline is None:
            return
        loop = asyncio.get_running_loop()
        # Re-armed since this timer was set (asyncio may run a timer up to its clock
        # resolution early: that is not a later deadline).
        if self.deadline - loop.time() > _EARLY:
            self.timer = loop.call_at(self.deadline, self._check)
            return
        self.deadline = None
        self._expired(*self.waiting_for)

    def _expired(self, what: str, seconds: float) -> None:
        self.guard.log.warning(
            f"slow-{what}",
            "closing a connection from %s: request %s not received within %ss",
            _peer(self.transport), what, seconds,
        )  # fmt: skip
        if self.transport is not None:
            self.transport.close()


def _length(digits: bytes) -> int:
    """A Content-Length's value; a run of digits ``int()`` refuses (over 4,300: a ValueError
    out of ``data_received``, logged by asyncio as a traceback per request) is "huge":
    aiohttp's parser refuses it, and until then the body is timed like any other."""
    significant = digits.lstrip(b"0")
    return int(significant or b"0") if len(significant) <= _MAX_LENGTH_DIGITS else 10**18


def _peer(transport: asyncio.BaseTransport | None) -> str:
    peer = None if transport is None else transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) else "?"


def install_exhaustion_logging(loop: asyncio.AbstractEventLoop) -> None:
    """asyncio logs a traceback for every accept that fails for lack of file descriptors;
    say it once per interval instead (the listener keeps retrying by itself)."""
    limited = RateLimitedLog()
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS):
            limited.warning(
                "exhausted", "out of file descriptors or buffers (%s): new connections wait; "
                "raise the file limit (ulimit -n) or lower http.max_connections", exc.strerror,
            )  # fmt: skip
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


@contextlib.asynccontextmanager
async def listening(app: web.Application, settings: HttpSettings) -> AsyncIterator[int]:
    """Serve ``app`` on ``settings.host``:``settings.port`` with the limits; yields the port
    (useful with port 0)."""
    app[RAW_BODIES] = True
    runner = web.AppRunner(
        app,
        access_log=None,
        auto_decompress=False,
        keepalive_timeout=settings.keepalive_timeout_seconds,
    )
    await runner.setup()
    try:
        loop = asyncio.get_running_loop()
        install_exhaustion_logging(loop)
        assert runner.server is not None
        guard = ConnectionGuard(runner.server, settings)
        server = await loop.create_server(guard, settings.host, settings.port, reuse_address=True)
        try:
            yield int(server.sockets[0].getsockname()[1])
        finally:
            server.close()
    finally:
        await runner.cleanup()

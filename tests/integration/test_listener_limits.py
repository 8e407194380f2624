"""Connection limits on the real listener (security.md row 39, issue 16 §6).

The attack run held 20 slow-header, 20 slow-body and 20 idle connections open indefinitely;
with a low file limit 300 idle ones made webhooks time out and wrote 22,643 tracebacks. Here
each kind is closed by its timeout, connections over the cap are refused with 503 while a
well-behaved client still gets through afterwards, and each limit is logged once per interval.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from aiohttp import web

from bot.http.listener import install_exhaustion_logging, listening
from bot.settings.schema import HttpSettings

LIMITS = HttpSettings(
    host="127.0.0.1",
    port=0,
    header_timeout_seconds=0.5,
    body_timeout_seconds=0.5,
    keepalive_timeout_seconds=0.5,
    max_connections=4,
)
CLOSE_WITHIN = 10.0  # generous bound for a busy machine; the limits themselves are 0.5 s


async def hello(request: web.Request) -> web.Response:
    body = await request.read()
    return web.Response(text=f"ok {len(body)}")


@pytest.fixture
async def port() -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_route("*", "/", hello)
    async with listening(app, LIMITS) as bound:
        yield bound


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes; fails if it keeps the socket open."""
    return await asyncio.wait_for(reader.read(), timeout=CLOSE_WITHIN)


async def test_slow_headers_are_cut_off(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
    await closed_by_server(reader)
    writer.close()


async def test_a_slow_body_is_cut_off(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
    answer = await closed_by_server(reader)
    assert b"ok 100" not in answer
    writer.close()


@pytest.mark.parametrize(
    "headers",
    [
        b"POST / HTTP/1.1\r\nContent-Length: 100\r\nHost: x\r\n\r\n",
        b"POST / HTTP/1.1\r\ncontent-length:100 \r\nHost: x\r\nAccept: */*\r\n\r\n",
    ],
    ids=["not-last", "lower-case"],
)
async def test_a_body_that_never_comes_is_cut_off_wherever_its_length_header_is(
    port: int, headers: bytes
) -> None:
    # The length was only found on the last header line (``$`` stops before ``\n``, not
    # ``\r\n``): with it anywhere else a connection could wait for its body forever.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(headers)
    answer = await closed_by_server(reader)
    assert b"ok 100" not in answer
    writer.close()


@pytest.mark.parametrize("digits", [b"1" * 5000, b"0" * 4999 + b"3"], ids=["huge", "zeros"])
async def test_a_content_length_of_thousands_of_digits_is_answered_not_a_crash(
    port: int, digits: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    # ``int()`` refuses more than 4,300 digits: raised in the listener's watch, the ValueError
    # killed the connection from inside ``data_received`` without an answer, and asyncio
    # logged "Fatal error" with a traceback. Now aiohttp answers (and logs) it as any request
    # it cannot parse.
    caplog.set_level(logging.WARNING)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " + digits + b"\r\n\r\nabc")
    answer = await closed_by_server(reader)
    writer.close()
    assert answer.split(b" ", 2)[1] in (b"400", b"200")  # aiohttp's answer, whichever it is
    assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []


async def test_a_silent_connection_is_closed(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert await closed_by_server(reader) == b""
    writer.close()


async def test_an_idle_keep_alive_connection_is_closed_after_its_answer(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
    answer = await closed_by_server(reader)
    assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"ok 3")
    writer.close()


@pytest.mark.parametrize(
    "second",
    [
        b"POST / HTTP/1.1\r\nHost: x\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nab",
    ],
    ids=["slow-headers", "slow-body"],
)
async def test_the_next_request_on_a_kept_alive_connection_is_timed_too(second: bytes) -> None:
    # aiohttp's keep-alive timer is far away here: only the listener's own deadlines can cut.
    app = web.Application()
    app.router.add_route("*", "/", hello)
    async with listening(app, replace(LIMITS, keepalive_timeout_seconds=60.0)) as bound:
        reader, writer = await asyncio.open_connection("127.0.0.1", bound)
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        head = await asyncio.wait_for(reader.readuntil(b"ok 3"), timeout=CLOSE_WITHIN)
        assert head.startswith(b"HTTP/1.1 200")
        writer.write(second)  # and never the rest
        assert b"ok" not in await closed_by_server(reader)
        writer.close()


async def test_a_request_within_the_limits_is_served_across_packets(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for piece in (b"POST / HTTP/1.1\r\nHo", b"st: x\r\nContent-Length: 4\r", b"\n\r\nab", b"cd"):
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(0.1)
    line = await asyncio.wait_for(reader.readline(), timeout=CLOSE_WITHIN)
    assert line.startswith(b"HTTP/1.1 200")
    writer.close()


async def test_connections_over_the_cap_are_refused_and_logged_once(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(LIMITS.max_connections)]
    caplog.set_level(logging.WARNING, logger="bot.http.listener")
    refused = []
    for _ in range(20):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        refused.append(await closed_by_server(reader))
        writer.close()
    assert all(answer.startswith(b"HTTP/1.1 503") for answer in refused)
    limit_lines = [r for r in caplog.records if "connection limit reached" in r.getMessage()]
    assert len(limit_lines) == 1 and limit_lines[0].exc_info is None
    for reader, writer in held:  # the slots free up once their timeouts close them
        await closed_by_server(reader)
        writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (await closed_by_server(reader)).startswith(b"HTTP/1.1 200")
    writer.close()


async def test_running_out_of_file_descriptors_is_logged_once_without_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    try:
        install_exhaustion_logging(loop)
        caplog.set_level(logging.WARNING)
        for _ in range(1000):
            exc = OSError(errno.EMFILE, "Too many open files")
            loop.call_exception_handler(
                {"message": "socket.accept() out of system resource", "exception": exc}
            )
        lines = [r for r in caplog.records if "file descriptors" in r.getMessage()]
        assert len(lines) == 1 and lines[0].exc_info is None
    finally:
        loop.set_exception_handler(previous)


def test_the_settings_defaults_bound_every_wait() -> None:
    defaults = HttpSettings()
    assert defaults.header_timeout_seconds <= 30 and defaults.body_timeout_seconds <= 120
    assert defaults.keepalive_timeout_seconds <= 75 and defaults.max_connections <= 1024
    assert replace(defaults, port=0).port == 0

"""An open-loop HTTP/1.1 load generator cheap enough to offer thousands of POSTs a second.

``python -m bench.http_load URL RATE SECONDS`` POSTs ``{"kind": "bench", "seq": n}`` number n
at ``n / RATE`` seconds (a slow server does not slow the offered load) over a pool of
keep-alive connections, and prints JSON: when each POST was sent and when its 202 came back
(``time.monotonic()``), and the CPU seconds this process used.

Why not aiohttp's client: it cost ~450 µs of CPU per POST here, so offering 2,500/s needed more
than a core of its own, on a 2-core machine where the server under test needs the other one.
This one writes prebuilt request bytes and reads the status line and ``Content-Length`` with
an ``asyncio.Protocol`` per connection.
"""

from __future__ import annotations

import asyncio
import collections
import json
import re
import resource
import sys
import time
from urllib.parse import urlsplit

CONNECTIONS = 128  # the listener refuses past http.max_connections (256 by default)
DRAIN_TIMEOUT = 120.0  # seconds for the last answers once everything was sent
_LENGTH = re.compile(rb"\r\ncontent-length: *([0-9]+)", re.I)


class _Load:
    """POSTs due but not sent (every connection busy), and the connections free to send."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.path = parts.path
        self.waiting: collections.deque[int] = collections.deque()
        self.idle: collections.deque[_Connection] = collections.deque()
        self.lost = 0

    def request(self, seq: int) -> bytes:
        body = json.dumps({"kind": "bench", "seq": seq}).encode()
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    def due(self, seq: int) -> None:
        if self.idle:
            self.idle.popleft().send(seq, self.request(seq))
        else:
            self.waiting.append(seq)

    def free(self, conn: _Connection) -> None:
        if self.waiting:
            number = self.waiting.popleft()
            conn.send(number, self.request(number))
        else:
            self.idle.append(conn)


class _Connection(asyncio.Protocol):
    """One keep-alive connection, one request at a time."""

    def __init__(self, load: _Load) -> None:
        self.load = load
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.seq = -1
        self.answers: list[tuple[int, int, float]] = []  # (seq, status, monotonic time)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def send(self, seq: int, request: bytes) -> None:
        assert self.transport is not None
        self.seq = seq
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        length = _LENGTH.search(self.buffer, 0, end + 2)
        total = end + 4 + (int(length.group(1)) if length else 0)
        if len(self.buffer) < total:
            return
        self.answers.append((self.seq, int(self.buffer[9:12]), time.monotonic()))
        self.buffer = self.buffer[total:]
        self.seq = -1
        self.load.free(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.load.lost += 1


async def generate(url: str, rate: int, seconds: float) -> dict[str, dict[int, float]]:
    load = _Load(url)
    loop = asyncio.get_running_loop()
    pool = []
    for _ in range(CONNECTIONS):
        _, conn = await loop.create_connection(lambda: _Connection(load), load.host, load.port)
        pool.append(conn)
        load.idle.append(conn)
    sent: dict[int, float] = {}
    total = int(rate * seconds)
    start, seq = time.monotonic(), 0
    while seq < total:
        now = time.monotonic()
        while seq < total and start + seq / rate <= now:
            sent[seq] = now
            load.due(seq)
            seq += 1
        await asyncio.sleep(max(0.0, start + seq / rate - time.monotonic()))
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while len(load.idle) < len(pool):
        if load.lost or time.monotonic() > deadline:
            raise RuntimeError(f"{len(pool) - len(load.idle)} POSTs never answered")
        await asyncio.sleep(0.001)
    accepted: dict[int, float] = {}
    for conn in pool:
        for number, status, at in conn.answers:
            if status != 202:
                raise RuntimeError(f"POST {number}: HTTP {status}")
            accepted[number] = at
        if conn.transport is not None:
            conn.transport.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"sent": sent, "accepted": accepted, "cpu": {0: usage.ru_utime + usage.ru_stime}}


if __name__ == "__main__":
    target, offered, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    print(json.dumps(asyncio.run(generate(target, offered, duration))))

"""Chat message → ack and → result latency for ``core.noop`` through the console adapter.

The whole bot runs in process on a SQLite file: the real inbound chain (identify, rate limit),
alias matching, the permission check with its audit write, the execution service and the run
card edit. ``one at a time`` sends the next message after the previous result; ``burst`` sends
50 at once and measures each one. Run alone with ``python -m bench.chat`` (prints JSON).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from adapters.console.testing import Posted, TestChat
from bench.stats import ms, percentile
from bot.app import open_engine
from bot.chat.loop import close_adapters
from bot.chat.runtime import open_chat
from bot.settings import load_settings

# Squall's convenience aliases (echo, noop, uuid); the default path is relative to the config.
SITE_ALIASES = Path(__file__).resolve().parent.parent / "aliases"
SEQUENTIAL = 200
BURST = 50


def _config(tmp: Path) -> Path:
    path = tmp / "squall.yaml"
    path.write_text(
        "store: {url: 'sqlite:///squall.db'}\n"
        "http: {enabled: false}\n"
        "chat: {rate_limit: {burst: 100000, per_minute: 100000}}\n"
        f"aliases: {{paths: ['{SITE_ALIASES}']}}\n"  # the `noop` alias it sends
    )
    return path


class _Clock:
    """When each card was first posted (ack) and edited (result), by message id."""

    def __init__(self) -> None:
        self.acks: dict[str, float] = {}
        self.results: dict[str, float] = {}
        self.order: list[str] = []
        self.done = asyncio.Event()
        self.expected = 0

    def observe(self, posted: Posted) -> None:
        now = time.perf_counter()
        if not posted.edited:
            self.acks[posted.message_id] = now
            self.order.append(posted.message_id)
        else:
            self.results[posted.message_id] = now
            if len(self.results) >= self.expected:
                self.done.set()


async def _measure(chat: TestChat, clock: _Clock, count: int, burst: bool) -> dict[str, Any]:
    clock.acks.clear()
    clock.results.clear()
    clock.order.clear()
    sent: list[float] = []
    if burst:
        clock.expected, clock.done = count, asyncio.Event()
        for _ in range(count):
            sent.append(time.perf_counter())
            chat.push("noop")
        await asyncio.wait_for(clock.done.wait(), 120)
        chat.drain()
    else:
        for n in range(count):
            clock.expected, clock.done = n + 1, asyncio.Event()
            sent.append(time.perf_counter())
            chat.push("noop")
            await asyncio.wait_for(clock.done.wait(), 30)
        chat.drain()
    acks = [clock.acks[m] - t for m, t in zip(clock.order, sent, strict=True)]
    results = [clock.results[m] - t for m, t in zip(clock.order, sent, strict=True)]
    return {
        "case": f"burst of {count}" if burst else "one at a time",
        "messages": count,
        "ack p50 ms": ms(percentile(acks, 0.5)),
        "ack p95 ms": ms(percentile(acks, 0.95)),
        "result p50 ms": ms(percentile(results, 0.5)),
        "result p95 ms": ms(percentile(results, 0.95)),
        "mean result ms": round(statistics.fmean(results) * 1000, 2),
    }


async def run(tmp: Path) -> list[dict[str, Any]]:
    settings = load_settings(_config(tmp))
    chat = TestChat()
    clock = _Clock()
    chat.add_observer(clock.observe)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(close_adapters, [chat.adapter])
        engine = await stack.enter_async_context(open_engine(settings))
        await stack.enter_async_context(open_chat(engine, [chat.adapter]))
        await _measure(chat, clock, 20, burst=False)  # warm up caches and the SQLite file
        return [
            await _measure(chat, clock, SEQUENTIAL, burst=False),
            await _measure(chat, clock, BURST, burst=True),
        ]


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(run(Path(tmp))), indent=2))
    sys.exit(0)

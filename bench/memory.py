"""Resident memory of a real ``squall serve`` process, read from ``/proc/<pid>/status``.

The serve runs in its own process on a temp SQLite file with the webhook listener on
127.0.0.1, so nothing of the benchmark harness (other suites' imports, the fakes, the load
generator) is counted. Three readings:

- idle, no chat adapter: the baseline of what the engine alone holds;
- idle with the Slack (Socket Mode) and Discord adapters connected to the fakes the integration
  tests use (``tests/fakes``: only the platforms' network boundary is fake, slack-bolt and
  discord.py run unmodified), measured once ``/healthz`` reports both ``connected`` and the
  process has settled;
- the same process once webhooks → rule → ``core.noop`` were offered at 1,000/s for 3 s (the
  load generator of ``bench.webhooks``, in its own process) and the backlog ran: ``VmRSS``
  then, and the peak (``VmHWM``) over the whole run.

Child processes the serve starts (actions, the Python fork server) are not counted: they are
not the serve's memory. Run alone with ``python -m bench.memory`` (prints JSON).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sqlite3
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from bench.webhooks import RULE, offer
from tests.fakes import discord as fake_discord
from tests.fakes import slack as fake_slack
from tests.fakes.discord_gateway import GUILD_ID, TOKEN

ROOT = Path(__file__).resolve().parent.parent
SETTLE_SECONDS = 3.0  # after connecting: the first heartbeats, lazy imports, GC
START_TIMEOUT = 90.0
LOAD_RATE = 1000
LOAD_SECONDS = 3.0
DRAIN_TIMEOUT = 120.0


def proc_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of ``pid`` in MB."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = round(int(value.split()[0]) / 1024, 1)
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_site(workdir: Path, port: int, chat: str) -> Path:
    rules = workdir / "packs" / "benchhooks" / "rules"
    rules.mkdir(parents=True, exist_ok=True)
    (rules.parent / "pack.yaml").write_text(
        "ref: benchhooks\nname: benchhooks\ndescription: bench\nversion: 0.1.0\nauthor: bench\n"
    )
    (rules / "noop.yaml").write_text(RULE)
    config = workdir / "squall.yaml"
    config.write_text(
        "store: {url: 'sqlite:///squall.db'}\n"
        f"packs: {{paths: ['{workdir / 'packs'}']}}\n"
        f"http: {{enabled: true, host: 127.0.0.1, port: {port}}}\n"
        "executions: {max_concurrency: 32}\n"
        "webhooks: {hooks: {bench: {auth: none}}}\n"
        f"{chat}"
    )
    return config


def chat_section(slack: fake_slack.FakeSlack, discord: fake_discord.FakeDiscord) -> str:
    return (
        "chat:\n"
        "  slack:\n"
        "    enabled: true\n"
        "    mode: socket\n"
        f"    bot_token: {fake_slack.BOT_TOKEN}\n"
        f"    app_token: {fake_slack.APP_TOKEN}\n"
        f"    api_url: {slack.api_url}\n"
        "  discord:\n"
        "    enabled: true\n"
        f"    token: {TOKEN}\n"
        f"    guild_ids: [{GUILD_ID}]\n"
        f"    api_url: {discord.api_base}\n"
        f"    gateway_url: {discord.gateway_url}\n"
    )


@contextlib.asynccontextmanager
async def serving(config: Path, workdir: Path) -> AsyncIterator[int]:
    """``squall serve`` in its own process; yields its pid; SIGTERM and wait on exit."""
    log = (workdir / "serve.log").open("wb")
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "serve", "--config", str(config),
        stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        yield child.pid
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(60):
                    await child.wait()
            except TimeoutError:
                child.kill()
                await child.wait()
        log.close()


async def wait_healthy(port: int, pid: int, adapters: set[str], workdir: Path) -> float:
    """Seconds until ``/healthz`` answers with every adapter in ``adapters`` connected."""
    start = time.monotonic()
    url = f"http://127.0.0.1:{port}/healthz"
    async with aiohttp.ClientSession() as session:
        while time.monotonic() - start < START_TIMEOUT:
            if not Path(f"/proc/{pid}").exists():
                break
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(url) as resp:
                    body = await resp.json()
                    states = body.get("adapters") or {}
                    if all(states.get(name) == "connected" for name in adapters):
                        return time.monotonic() - start
            await asyncio.sleep(0.1)
    log = (workdir / "serve.log").read_text(errors="replace")[-3000:]
    raise RuntimeError(f"squall serve did not get ready with {sorted(adapters)}:\n{log}")


def _completed(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        sql = "select count(*) from executions where json_extract(doc, '$.status') = 'succeeded'"
        (count,) = conn.execute(sql).fetchone()
        return int(count)


async def drained(db: Path, expected: int) -> None:
    """Wait until the serve completed every execution the load asked for."""
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while (done := _completed(db)) < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {done} of {expected} executions completed")
        await asyncio.sleep(0.2)


def _label(adapters: set[str]) -> str:
    chat = " + ".join(sorted(adapters)) + " connected (fakes)" if adapters else "no chat"
    return f"squall serve idle, {chat}"


async def measure(workdir: Path, chat: str, adapters: set[str], load: bool) -> list[dict[str, Any]]:
    """The idle reading, and with ``load`` the reading once 1,000 events/s were offered."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    config = write_site(workdir, port, chat)
    async with serving(config, workdir) as pid:
        ready = await wait_healthy(port, pid, adapters, workdir)
        await asyncio.sleep(SETTLE_SECONDS)
        idle = proc_status(pid)
        rows = [
            {"benchmark": _label(adapters), "rss_mb": idle["VmRSS"], "ready_s": round(ready, 1)}
        ]
        if load:
            await offer(f"http://127.0.0.1:{port}/api/v1/webhooks/bench", LOAD_RATE, LOAD_SECONDS)
            await drained(workdir / "squall.db", int(LOAD_RATE * LOAD_SECONDS))
            after = proc_status(pid)
            rows.append({
                "benchmark": f"squall serve, {LOAD_RATE} webhook events/s offered for "
                f"{LOAD_SECONDS:g} s, chat connected",
                "rss_mb": after["VmRSS"],
                "rss_mb_peak": after["VmHWM"],
            })  # fmt: skip
        return rows


async def run(workdir: Path) -> list[dict[str, Any]]:
    rows = await measure(workdir / "alone", "", set(), load=False)
    async with fake_slack.running_fake() as slack, fake_discord.running_fake() as discord:
        chat = chat_section(slack, discord)
        rows += await measure(workdir / "chat", chat, {"slack", "discord"}, load=True)
    return rows


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(run(Path(tmp))), indent=2))

"""Health tells the truth (security.md row 34, issue 16 §7).

The attack run held an EXCLUSIVE lock on the SQLite file from another process: webhooks
correctly got 503, but ``/healthz`` and ``/readyz`` both said ok. Now ``/readyz`` fails while
the store cannot write, while a chat adapter that should be connected is not, and while no
process runs the timers; ``/healthz`` stays a liveness check. And a ``-shm`` this user cannot
write is refused at start with the file named (SQLite would die of SIGBUS on it).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import test_utils

from bot.app import Engine, open_engine
from bot.http.app import build_web_app
from bot.settings import load_settings
from core.store import StoreError
from core.store.sqlite_files import prepare_files
from tests.conftest import ROOT, write_config

Client = test_utils.TestClient[Any, Any]


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    config = write_config(tmp_path)
    async with open_engine(load_settings(config)) as opened:
        yield opened


async def client_for(engine: Engine, **kwargs: Any) -> Client:
    server = test_utils.TestServer(build_web_app(engine, **kwargs), host="127.0.0.1")
    client: Client = test_utils.TestClient(server)
    await client.start_server()
    return client


async def test_readyz_fails_while_another_process_locks_the_store(
    engine: Engine, tmp_path: Path
) -> None:
    client = await client_for(engine)
    try:
        assert (await client.get("/readyz")).status == 200
        locker = sqlite3.connect(tmp_path / "var" / "squall.db", isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            answer = await client.get("/readyz")
            assert answer.status == 503
            problems = (await answer.json())["problems"]
            assert any(p.startswith("store:") for p in problems), problems
            assert (await client.get("/healthz")).status == 200  # liveness stays
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert (await client.get("/readyz")).status == 200
    finally:
        await client.close()


async def test_readyz_fails_while_a_chat_adapter_is_not_connected(engine: Engine) -> None:
    states = {"slack": "reconnecting", "discord": "standby", "console": "connected"}

    def chat_health() -> dict[str, object]:
        return {"adapters": dict(states), "delivery_failures": 0}

    client = await client_for(engine, chat_health=chat_health)
    try:
        answer = await client.get("/readyz")
        assert answer.status == 503
        assert (await answer.json())["problems"] == ["chat: adapter slack is reconnecting"]
        states["slack"] = "connected"  # another process's adapter on standby is fine
        assert (await client.get("/readyz")).status == 200
    finally:
        await client.close()


async def test_readyz_fails_while_the_timers_are_down(engine: Engine) -> None:
    leader = engine.timers
    assert leader is not None and leader.timers is not None and leader.timers.running
    client = await client_for(engine)
    try:
        assert (await client.get("/readyz")).status == 200
        await leader.timers.stop()
        answer = await client.get("/readyz")
        assert answer.status == 503
        assert (await answer.json())["problems"] == [
            "timers: the scheduler of this process stopped"
        ]
    finally:
        await client.close()


PROBE = """
import asyncio, sys
from core.store import open_store
async def main():
    store = open_store(sys.argv[1])
    await store.open()
    await store.close()
asyncio.run(main())
"""


def make_read_only(path: Path) -> bool:
    """Read-only even for root: mode 0444, and the immutable attribute when running as root
    (False where the filesystem has no such attribute)."""
    path.chmod(0o444)
    if os.geteuid() != 0:
        return True
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, timeout=10)
    return done.returncode == 0


def test_an_unwritable_shm_is_refused_at_start_with_the_file_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "squall.db"
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x)")
    shm = Path(f"{database}-shm")
    shm.write_bytes(b"\0" * 32768)
    if make_read_only(shm):
        try:
            done = subprocess.run(
                [sys.executable, "-c", PROBE, f"sqlite:///{database}"],
                cwd=ROOT, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
        finally:
            subprocess.run(["chattr", "-i", str(shm)], capture_output=True, timeout=10)
        assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
        message = done.stderr
    else:  # no immutable attribute here: the same check, told the file is not writable
        real_access = os.access
        monkeypatch.setattr(
            os, "access", lambda p, mode: False if str(p) == str(shm) else real_access(p, mode)
        )
        with pytest.raises(StoreError) as refused:
            prepare_files(database)
        message = str(refused.value)
    assert f"SQLite store file {shm}" in message, message[-2000:]
    assert "not readable and writable by this user" in message

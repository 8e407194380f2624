"""Two real processes claiming from one SQLite file never get the same execution."""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from pathlib import Path

from core.models import Execution
from core.store.sqlite import SqliteStore

HELPER = Path(__file__).with_name("store_claimer.py")
REPO_ROOT = Path(__file__).resolve().parents[2]
COUNT = 1000
TIMEOUT = 60


async def seed(path: Path) -> list[str]:
    store = SqliteStore(path)
    await store.open()
    try:
        executions = [
            Execution.request("core.local", "local-shell-cmd", {"cmd": f"echo {i}"})
            for i in range(COUNT)
        ]
        for execution in executions:
            await store.executions.insert(execution)
    finally:
        await store.close()
    return [e.id for e in executions]


async def run_claimers(path: Path, owners: list[str]) -> dict[str, list[str]]:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            str(HELPER),
            str(path),
            owner,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        for owner in owners
    ]
    try:
        async with asyncio.timeout(TIMEOUT):
            for proc in procs:
                assert proc.stdout is not None
                assert await proc.stdout.readline() == b"ready\n"
            results = await asyncio.gather(*(proc.communicate(b"go\n") for proc in procs))
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
    for proc, (_, stderr) in zip(procs, results, strict=True):
        assert proc.returncode == 0, stderr.decode()
    return {
        owner: stdout.decode().split() for owner, (stdout, _) in zip(owners, results, strict=True)
    }


async def test_two_processes_claim_every_execution_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    all_ids = await seed(path)

    claimed = await run_claimers(path, ["w1", "w2"])

    counts = Counter(i for ids in claimed.values() for i in ids)
    assert set(counts) == set(all_ids)
    assert [i for i, n in counts.items() if n > 1] == []
    # The store agrees with what each process printed.
    store = SqliteStore(path)
    await store.open()
    try:
        for owner, ids in claimed.items():
            for execution_id in ids:
                stored = await store.executions.get(execution_id)
                assert stored is not None and stored.owner == owner
    finally:
        await store.close()

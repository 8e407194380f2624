"""The process group of an execution's subprocess (core.executions.pgid): written with the
outcome when the process ends soon, on its own once it has run PGID_WRITE_DELAY; and a restart
kills the processes of an execution whose pgid was never written, by the execution id in their
environment. Real SQLite store, real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.app import Engine, open_engine
from bot.settings import load_settings
from core.executions.owner import OwnerId
from core.executions.pgid import PGID_WRITE_DELAY
from core.executions.recovery import abandon_orphans
from core.models import Execution, ExecutionStatus
from tests.conftest import process_alive, wait_dead, write_config

S = ExecutionStatus
WAIT = 10.0

Writes = list[tuple[ExecutionStatus, int | None]]


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with open_engine(load_settings(write_config(tmp_path))) as opened:
        yield opened


@pytest.fixture
def writes(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Writes:
    """(status, pgid) of every replace of an execution document, in order."""
    seen: Writes = []
    repo = engine.store.executions
    assert repo is engine.store.executions  # one object, which the service writes through
    original: Callable[..., Awaitable[bool]] = repo.replace

    async def replace(execution: Execution, **kwargs: Any) -> bool:
        seen.append((execution.status, execution.pgid))
        return await original(execution, **kwargs)

    monkeypatch.setattr(repo, "replace", replace)
    return seen


async def test_a_short_run_stores_its_pgid_with_the_outcome(engine: Engine, writes: Writes) -> None:
    execution = await engine.executions.request("core.local", {"cmd": "echo $$"})
    done = await engine.executions.wait(execution.id, timeout=WAIT)
    assert done.status is S.SUCCEEDED
    assert done.pgid == int(done.result["stdout"])  # type: ignore[index]
    assert writes == [(S.RUNNING, None), (S.SUCCEEDED, done.pgid)]  # no write of its own


async def test_a_long_run_has_its_pgid_written_while_it_runs(
    engine: Engine, writes: Writes
) -> None:
    seconds = PGID_WRITE_DELAY + 0.5
    execution = await engine.executions.request("core.local", {"cmd": f"sleep {seconds}"})
    done = await engine.executions.wait(execution.id, timeout=WAIT)
    assert done.status is S.SUCCEEDED and done.pgid
    assert writes == [(S.RUNNING, None), (S.RUNNING, done.pgid), (S.SUCCEEDED, done.pgid)]


@dataclass
class Orphan:
    execution: Execution  # running, owned by a Squall process that has died, no pgid
    leftover: subprocess.Popen[bytes]  # its process, out of our group (setsid)
    bystander: subprocess.Popen[bytes]  # somebody else's process


@pytest.fixture
def orphan() -> Iterator[Orphan]:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid no longer runs
    owner = OwnerId(OwnerId.current().host, dead.pid, "1")
    requested = Execution.request("core.local", "local-shell-cmd", {"cmd": "sleep 300"})
    running = requested.transition(S.RUNNING, owner=str(owner))
    env = {**os.environ, "ST2_ACTION_EXECUTION_ID": running.id}
    leftover = subprocess.Popen(["sleep", "300"], env=env, start_new_session=True)
    bystander = subprocess.Popen(["sleep", "300"], start_new_session=True)
    yield Orphan(running, leftover, bystander)
    for proc in (leftover, bystander):
        proc.kill()
        proc.wait()


async def test_recovery_kills_processes_of_an_execution_without_a_pgid(
    engine: Engine, orphan: Orphan
) -> None:
    """Squall died after the spawn, before the pgid write."""
    await engine.store.executions.insert(orphan.execution)
    abandoned = await abandon_orphans(engine.store)
    assert [a.id for a in abandoned] == [orphan.execution.id]
    await wait_dead(orphan.leftover.pid, WAIT)
    assert process_alive(orphan.bystander.pid)  # only the execution's own processes

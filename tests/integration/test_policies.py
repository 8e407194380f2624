"""Policies end to end: a real SQLite store, the fixture pack ``pol`` and real subprocesses.

``pol.gated`` and friends wait until their ``path`` exists, so a test decides when each one may
finish; nothing here depends on timing beyond bounded waits.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import Engine, open_engine
from bot.settings import load_settings
from core.models import Execution, ExecutionStatus
from core.store import ExecutionQuery
from tests.conftest import FIXTURES, cli_json, wait_execution

S = ExecutionStatus


def policy_config(directory: Path) -> Path:
    config = directory / "squall.yaml"
    config.write_text(
        "store:\n  url: sqlite:///var/squall.db\n"
        f"packs:\n  paths: ['{FIXTURES / 'policies'}']\n"
        "http:\n  enabled: false\n"
        "executions:\n  max_concurrency: 8\n  shutdown_grace_seconds: 0.2\n"
    )
    return config


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with open_engine(load_settings(policy_config(tmp_path))) as opened:
        yield opened


async def gated(engine: Engine, ref: str, gate: Path, **params: Any) -> Execution:
    return await engine.executions.request(ref, {"path": str(gate), **params})


async def current(engine: Engine, execution_id: str) -> Execution:
    found = await engine.store.executions.get(execution_id)
    assert found is not None
    return found


def statuses(execution: Execution) -> list[str]:
    return [str(change.status) for change in execution.log]


async def executions_of(engine: Engine, ref: str) -> list[Execution]:
    found = await engine.store.executions.list(ExecutionQuery(action_ref=ref, limit=100))
    return sorted(found, key=lambda e: e.start_timestamp)


async def test_delay_waits_for_the_running_one_then_runs(engine: Engine, tmp_path: Path) -> None:
    first = await gated(engine, "pol.gated", tmp_path / "first")
    await wait_execution(engine, first.id, S.RUNNING)
    (tmp_path / "second").touch()  # the second could finish at once, if it were let run
    second = await gated(engine, "pol.gated", tmp_path / "second")
    await wait_execution(engine, second.id, S.DELAYED)
    (tmp_path / "first").touch()
    done = await engine.executions.wait(second.id, timeout=10)
    assert done.status is S.SUCCEEDED
    assert statuses(done) == [
        "requested", "delayed", "requested", "scheduled", "running", "succeeded",
    ]  # fmt: skip
    first_done = await engine.executions.wait(first.id, timeout=10)
    assert first_done.end_timestamp is not None
    assert done.log[2].timestamp >= first_done.end_timestamp  # released by its completion


async def test_oldest_delayed_goes_first(engine: Engine, tmp_path: Path) -> None:
    running = await gated(engine, "pol.gated", tmp_path / "running")
    await wait_execution(engine, running.id, S.RUNNING)
    waiters = [await gated(engine, "pol.gated", tmp_path / f"w{n}") for n in range(3)]
    for waiter in waiters:
        await wait_execution(engine, waiter.id, S.DELAYED)
    (tmp_path / "running").touch()
    await wait_execution(engine, waiters[0].id, S.RUNNING)
    for later in waiters[1:]:
        assert (await current(engine, later.id)).status is S.DELAYED
    for n in range(3):
        (tmp_path / f"w{n}").touch()
    done = [await engine.executions.wait(w.id, timeout=10) for w in waiters]
    assert [d.status for d in done] == [S.SUCCEEDED] * 3
    starts = [d.log[statuses(d).index("running")].timestamp for d in done]
    assert starts == sorted(starts)


async def test_cancel_policy_cancels_over_threshold(engine: Engine, tmp_path: Path) -> None:
    first = await gated(engine, "pol.gated_cancel", tmp_path / "first")
    await wait_execution(engine, first.id, S.RUNNING)
    second = await gated(engine, "pol.gated_cancel", tmp_path / "second")
    done = await engine.executions.wait(second.id, timeout=10)
    assert done.status is S.CANCELED
    assert statuses(done) == ["requested", "canceling", "canceled"]
    assert done.result == {
        "message": "Action canceled by policy pol.gated_cancel.concurrency.",
        "policy": "pol.gated_cancel.concurrency",
    }
    (tmp_path / "first").touch()
    assert (await engine.executions.wait(first.id, timeout=10)).status is S.SUCCEEDED


async def test_attr_policy_limits_per_attribute_value(engine: Engine, tmp_path: Path) -> None:
    a1 = await gated(engine, "pol.keyed", tmp_path / "a1", key="a")
    b1 = await gated(engine, "pol.keyed", tmp_path / "b1", key="b")
    await wait_execution(engine, a1.id, S.RUNNING)
    await wait_execution(engine, b1.id, S.RUNNING)  # a different value runs alongside
    a2 = await gated(engine, "pol.keyed", tmp_path / "a2", key="a")
    await wait_execution(engine, a2.id, S.DELAYED)
    (tmp_path / "b1").touch()  # finishing a "b" frees nothing for "a"
    assert (await engine.executions.wait(b1.id, timeout=10)).status is S.SUCCEEDED
    await engine.executions.policies.settle()
    assert (await current(engine, a2.id)).status is S.DELAYED
    (tmp_path / "a2").touch()
    (tmp_path / "a1").touch()
    done = await engine.executions.wait(a2.id, timeout=10)
    assert done.status is S.SUCCEEDED and done.result and done.result["stdout"] == "a"


async def wait_completed(engine: Engine, ref: str, count: int) -> list[Execution]:
    async def poll() -> list[Execution]:
        while True:
            found = await executions_of(engine, ref)
            if sum(e.is_completed for e in found) >= count:
                return found
            await asyncio.sleep(0.02)

    found = await asyncio.wait_for(poll(), timeout=20)
    await engine.executions.policies.settle()  # any further retry would be requested by now
    return found


async def test_retry_on_failure_requests_max_retry_count_new_executions(engine: Engine) -> None:
    original = await engine.executions.request("pol.flaky", {"note": "n"}, context={"user": "ann"})
    await wait_completed(engine, "pol.flaky", 3)
    found = await executions_of(engine, "pol.flaky")
    assert [e.status for e in found] == [S.FAILED] * 3
    assert found[0].id == original.id and "policies" not in found[0].context
    for count, (previous, retry) in enumerate(itertools.pairwise(found), start=1):
        assert retry.context["policies"] == {
            "retry": {
                "applied_policy": "pol.flaky.retry",
                "retry_count": count,
                "retried_liveaction_id": previous.id,
            }
        }
        assert retry.context["user"] == "ann"
        assert retry.parameters == original.parameters


async def test_no_retry_after_success(engine: Engine) -> None:
    execution = await engine.executions.request("pol.steady", {})
    assert (await engine.executions.wait(execution.id, timeout=10)).status is S.SUCCEEDED
    await engine.executions.policies.settle()
    assert [e.id for e in await executions_of(engine, "pol.steady")] == [execution.id]


async def test_retry_on_timeout(engine: Engine) -> None:
    await engine.executions.request("pol.slow", {})
    await wait_completed(engine, "pol.slow", 2)
    found = await executions_of(engine, "pol.slow")
    assert [e.status for e in found] == [S.TIMEOUT, S.TIMEOUT]
    assert found[1].context["policies"]["retry"]["retry_count"] == 1


async def test_a_delayed_execution_left_in_the_store_runs_after_restart(tmp_path: Path) -> None:
    settings = load_settings(policy_config(tmp_path))
    (tmp_path / "gate").touch()
    # As a process that stopped would leave it: delayed, and no completion left to release it.
    async with open_engine(settings, start=False) as engine:
        requested = await gated(engine, "pol.gated", tmp_path / "gate")
        delayed = requested.transition(S.DELAYED)
        assert await engine.store.executions.replace(delayed, expected_status=S.REQUESTED)
    async with open_engine(settings) as engine:
        done = await engine.executions.wait(requested.id, timeout=10)
        assert done.status is S.SUCCEEDED
        assert statuses(done)[:3] == ["requested", "delayed", "requested"]


def test_cli_run_requests_the_retry_before_it_exits(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = policy_config(tmp_path)
    code, failed = cli_json(capsys, config, "run", "pol.flaky")
    assert (code, failed["status"]) == (1, "failed")
    code, found = cli_json(capsys, config, "execution", "list", "--action", "pol.flaky")
    retry = next(e for e in found if e["id"] != failed["id"])
    assert retry["status"] == "requested"  # a `squall serve` sharing the store runs it
    assert retry["context"]["policies"]["retry"]["retried_liveaction_id"] == failed["id"]

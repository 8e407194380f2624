"""The execution service against a real SQLite store, real packs and real subprocesses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Engine, open_engine
from bot.settings import load_settings
from core.models import Execution, ExecutionStatus
from tests.conftest import group_alive, write_config

S = ExecutionStatus


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    config = write_config(tmp_path, "  max_concurrency: 2\n  shutdown_grace_seconds: 0.2\n")
    async with open_engine(load_settings(config)) as opened:
        yield opened


async def wait_for_status(engine: Engine, execution_id: str, status: S) -> Execution:
    async def poll() -> Execution:
        while True:
            current = await engine.store.executions.get(execution_id)
            assert current is not None
            if current.status is status and (status is not S.RUNNING or current.pgid):
                return current
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(poll(), timeout=10)


async def wait_until_gone(pgid: int) -> None:
    async def poll() -> None:
        while group_alive(pgid):
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), timeout=5)


async def test_concurrency_is_bounded(engine: Engine) -> None:
    service = engine.executions
    requested = [await service.request("core.local", {"cmd": "sleep 0.3"}) for _ in range(5)]
    peak = 0

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, service.running_count)
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(sample())
    done = [await service.wait(e.id, timeout=20) for e in requested]
    sampler.cancel()
    assert all(d.status is S.SUCCEEDED for d in done)
    assert peak == 2


async def test_cancel_running_kills_process_group(engine: Engine) -> None:
    service = engine.executions
    execution = await service.request("core.local", {"cmd": "sleep 30 & sleep 30"})
    running = await wait_for_status(engine, execution.id, S.RUNNING)
    assert running.pgid and group_alive(running.pgid)
    canceling = await service.cancel(execution.id, user="ann")
    assert canceling.status is S.CANCELING
    done = await service.wait(execution.id, timeout=10)
    assert done.status is S.CANCELED
    await wait_until_gone(running.pgid)
    assert [c.status for c in done.log][-2:] == [S.CANCELING, S.CANCELED]


async def test_cancel_completed_is_a_no_op(engine: Engine) -> None:
    execution = await engine.executions.request("core.noop", {})
    done = await engine.executions.wait(execution.id, timeout=10)
    again = await engine.executions.cancel(execution.id)
    assert again.status is S.SUCCEEDED and again == done


async def test_requested_by_another_process_is_picked_up(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    settings = load_settings(config)
    async with open_engine(settings, start=False) as requester:
        execution = await requester.executions.request("core.echo", {"message": "later"})
    async with open_engine(settings) as worker:
        done = await worker.executions.wait(execution.id, timeout=10)
    assert done.status is S.SUCCEEDED
    assert done.result is not None and done.result["stdout"] == "later"


async def test_shutdown_abandons_what_does_not_finish(tmp_path: Path) -> None:
    config = write_config(tmp_path, "  shutdown_grace_seconds: 0.2\n")
    settings = load_settings(config)
    async with open_engine(settings) as engine:
        execution = await engine.executions.request("core.local", {"cmd": "sleep 30"})
        running = await wait_for_status(engine, execution.id, S.RUNNING)
    async with open_engine(settings, start=False) as reopened:
        final = await reopened.store.executions.get(execution.id)
    assert final is not None and final.status is S.ABANDONED
    assert "shut down" in (final.result or {}).get("error", "")
    assert running.pgid
    await wait_until_gone(running.pgid)


async def test_runner_params_and_context(engine: Engine) -> None:
    execution = await engine.executions.request(
        "core.local", {"cmd": "echo $ST2_ACTION_EXECUTION_ID $ST2_ACTION_PACK_NAME"},
        context={"user": "ann"},
    )  # fmt: skip
    done = await engine.executions.wait(execution.id, timeout=10)
    assert done.result is not None
    assert done.result["stdout"] == f"{execution.id} core"
    assert done.context["user"] == "ann"


async def test_cancel_from_another_process_reaches_the_runner(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path))
    async with open_engine(settings) as worker, open_engine(settings, start=False) as other:
        execution = await worker.executions.request("core.local", {"cmd": "sleep 30"})
        running = await wait_for_status(worker, execution.id, S.RUNNING)
        canceling = await other.executions.cancel(execution.id, user="bob")
        assert canceling.status is S.CANCELING
        done = await other.executions.wait(execution.id, timeout=15)
    assert done.status is S.CANCELED
    assert running.pgid
    await wait_until_gone(running.pgid)


async def test_dispatch_survives_a_store_error(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_claim = engine.store.executions.claim
    failures = 0

    async def flaky_claim(*args: object, **kwargs: object) -> Execution | None:
        nonlocal failures
        if failures < 2:
            failures += 1
            raise RuntimeError("database is locked")
        return await real_claim(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine.store.executions, "claim", flaky_claim)
    # Stored as another process would (``squall run --async``): only the claim loop finds it
    # (a request made here starts at once, without a claim).
    execution = Execution.request("core.noop", "noop", {}, {"user": "stanley", "pack": "core"})
    await engine.store.executions.insert(execution)
    done = await engine.executions.wait(execution.id, timeout=15)
    assert done.status is S.SUCCEEDED and failures == 2


async def test_templates_read_the_datastore(engine: Engine) -> None:
    await engine.kv.set("greeting", "hello")
    await engine.kv.set("password", "s3cr3t-pw", secret=True)
    await engine.kv.set("color", "blue", scope="user", user="ann")
    execution = await engine.executions.request(
        "core.local",
        {
            "cmd": "echo {{ st2kv.system.greeting }} {{ st2kv.user.color }} "
            "{{ st2kv.system.missing }}:{{ st2kv.system.password | decrypt_kv }}"
        },
        context={"user": "ann"},
    )
    done = await engine.executions.wait(execution.id, timeout=10)
    assert done.status is S.SUCCEEDED and done.result is not None
    assert done.result["stdout"] == "hello blue :s3cr3t-pw"


async def test_chat_text_is_never_a_template(engine: Engine) -> None:
    await engine.kv.set("password", "s3cr3t-pw", secret=True)
    execution = await engine.executions.request(
        "core.echo",
        {"message": "{{ st2kv.system.password | decrypt_kv }}"},
        render_live=False,
    )
    done = await engine.executions.wait(execution.id, timeout=10)
    assert done.result is not None
    assert done.result["stdout"] == "{{ st2kv.system.password | decrypt_kv }}"


async def test_startup_requeues_what_a_dead_process_scheduled_but_never_started(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path)
    settings = load_settings(config)
    marker = tmp_path / "ran"
    async with open_engine(settings, start=False) as cli:
        requested = await cli.executions.request("core.local", {"cmd": f"echo x >> {marker}"})
        # Scheduled by a process that died before running it (no owner left alive).
        orphan = requested.transition(S.SCHEDULED, owner="elsewhere:1:1")
        assert await cli.store.executions.replace(orphan, expected_status=S.REQUESTED)
        claimed = requested.with_changes(id="f" * 24, owner="elsewhere:1:1",
                                         lease_expires=requested.start_timestamp)  # fmt: skip
        await cli.store.executions.insert(claimed)  # claimed, lease already run out
    async with open_engine(settings) as serve:
        done = await serve.executions.wait(requested.id, timeout=20)
        other = await serve.executions.wait(claimed.id, timeout=20)
    assert done.status is S.SUCCEEDED and other.status is S.SUCCEEDED
    assert marker.read_text().count("x") == 2  # each ran once
    assert [c.status for c in done.log] == [S.REQUESTED, S.SCHEDULED, S.REQUESTED, S.SCHEDULED,
                                            S.RUNNING, S.SUCCEEDED]  # fmt: skip


async def test_an_outcome_is_recorded_through_a_store_outage(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A MongoDB election outlasting the driver's retry must not leave the run ``running``."""
    from core.executions import run as run_module
    from core.store import StoreError

    monkeypatch.setattr(run_module, "FINISH_RETRY_FIRST", 0.05)
    repo = engine.store.executions
    real_replace = repo.replace
    failures = []

    async def flaky(execution: Execution, *, expected_status: S) -> bool:
        if execution.is_completed and len(failures) < 2:
            failures.append(execution.status)
            raise StoreError("no primary (a failover)")
        return await real_replace(execution, expected_status=expected_status)

    monkeypatch.setattr(repo, "replace", flaky)
    requested = await engine.executions.request("core.local", {"cmd": "echo survived"})
    done = await engine.executions.wait(requested.id, timeout=20)
    assert failures == [S.SUCCEEDED, S.SUCCEEDED]
    assert done.status is S.SUCCEEDED and done.result["stdout"].strip() == "survived"
    stored = await engine.store.executions.get(requested.id)
    assert stored is not None and stored.status is S.SUCCEEDED

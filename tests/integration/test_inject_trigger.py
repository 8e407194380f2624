"""``core.inject_trigger`` and trigger instances stored by processes that do not process them
(a CLI ``squall run``, startup abandonment), picked up by ``serve``'s sweep."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import Engine, open_engine
from bot.settings import load_settings
from core.models import Execution, ExecutionStatus
from core.models.trigger_instance import TriggerInstance, TriggerInstanceStatus
from core.store.base import ExecutionQuery
from core.triggers.builtin import ACTION_TRIGGER
from tests.conftest import FIXTURES, ROOT

S = ExecutionStatus
WAIT = 20.0


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "squall.yaml"
    path.write_text(
        "store:\n"
        "  url: sqlite:///var/squall.db\n"
        "packs:\n"
        f"  paths: ['{FIXTURES / 'inject'}']\n"
        "http:\n"
        "  enabled: false\n"
        "executions:\n"
        "  max_concurrency: 2\n"
        "  shutdown_grace_seconds: 0.5\n"
    )
    return path


@pytest.fixture
async def engine(config: Path) -> AsyncIterator[Engine]:
    async with open_engine(load_settings(config)) as opened:
        yield opened


async def run(engine: Engine, ref: str, **parameters: object) -> Execution:
    requested = await engine.executions.request(ref, dict(parameters))
    return await engine.executions.wait(requested.id, timeout=WAIT)


async def echo_saying(engine: Engine, text: str) -> Execution:
    """The completed ``core.echo`` a rule requested with ``text`` as its output."""

    async def poll() -> Execution:
        while True:
            found = await engine.store.executions.list(ExecutionQuery(limit=100))
            for execution in found:
                said = execution.result.get("stdout", "").strip() if execution.result else ""
                if execution.action_ref == "core.echo" and execution.is_completed and said == text:
                    return execution
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(poll(), timeout=WAIT)


async def action_triggers(engine: Engine, execution_id: str) -> list[TriggerInstance]:
    found = await engine.store.trigger_instances.list(trigger=ACTION_TRIGGER, limit=100)
    return [i for i in found if i.payload["execution_id"] == execution_id]


# --- core.inject_trigger ---------------------------------------------------------------------


async def test_rule_on_a_custom_trigger_fires_from_inject_trigger(engine: Engine) -> None:
    injected = await run(
        engine, "core.inject_trigger", trigger="inject_demo.deployed", payload={"service": "api"}
    )
    assert injected.status is S.SUCCEEDED, injected.result
    assert injected.result["trigger"] == "inject_demo.deployed"
    instance = await engine.store.trigger_instances.get(injected.result["trigger_instance"])
    assert instance is not None and instance.payload == {"service": "api"}
    assert instance.source == f"execution:{injected.id}"
    echo = await echo_saying(engine, "deployed api")
    assert echo.status is S.SUCCEEDED


async def test_trigger_name_is_accepted_too(engine: Engine) -> None:
    injected = await run(
        engine,
        "core.inject_trigger",
        trigger_name="inject_demo.deployed",
        payload={"service": "db"},
        trace_tag="t-1",
    )
    assert injected.status is S.SUCCEEDED, injected.result
    assert injected.result["trace_tag"] == "t-1"
    await echo_saying(engine, "deployed db")


async def test_unknown_trigger_fails_the_execution(engine: Engine) -> None:
    injected = await run(engine, "core.inject_trigger", trigger="inject_demo.nope")
    assert injected.status is S.FAILED
    assert "cannot inject trigger" in injected.result["error"]
    assert "inject_demo.nope" in injected.result["error"]


async def test_missing_trigger_fails_the_execution(engine: Engine) -> None:
    injected = await run(engine, "core.inject_trigger", payload={"a": 1})
    assert injected.status is S.FAILED
    assert "'trigger' (or 'trigger_name')" in injected.result["error"]


# --- executions finished outside `squall serve` -----------------------------------------------


async def test_cli_run_actiontrigger_is_swept_up_by_serve(engine: Engine, config: Path) -> None:
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", "core.local", "cmd=exit 3", "--config", str(config),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    async with asyncio.timeout(60):
        output, _ = await cli.communicate()
    assert cli.returncode == 1, output.decode()
    # The CLI stored the instance pending; the periodic sweep of this serve processes it.
    echo = await echo_saying(engine, "core.local failed")
    assert echo.status is S.SUCCEEDED


async def test_abandoned_at_startup_emits_actiontrigger(config: Path) -> None:
    settings = load_settings(config)
    async with open_engine(settings, start=False) as cli_engine:
        requested = await cli_engine.executions.request("core.noop", {})
        # Started by a process that vanished before taking a lease.
        orphan = requested.transition(S.SCHEDULED).transition(S.RUNNING)
        assert await cli_engine.store.executions.replace(orphan, expected_status=S.REQUESTED)
    async with open_engine(settings, start=False) as cli_engine:  # abandons it
        [instance] = await action_triggers(cli_engine, requested.id)
        assert instance.payload["status"] == "abandoned"
        # A short-lived process only stores it.
        assert instance.status is TriggerInstanceStatus.PENDING
    async with open_engine(settings) as serve:
        echo = await echo_saying(serve, "core.noop abandoned")
        assert echo.status is S.SUCCEEDED


async def test_sweep_takes_only_pending_instances_old_enough(engine: Engine) -> None:
    fresh = TriggerInstance.new("inject_demo.deployed", {"service": "late"})
    assert await engine.store.trigger_instances.insert(fresh)
    assert await engine.triggers.sweep(min_age=timedelta(minutes=5)) == 0  # too young
    busy = TriggerInstance.new("inject_demo.deployed", {"service": "busy"})
    assert await engine.store.trigger_instances.insert(busy)
    claimed = busy.transition(TriggerInstanceStatus.PROCESSING)
    assert await engine.store.trigger_instances.replace(
        claimed, expected_status=TriggerInstanceStatus.PENDING
    )
    # A processing instance may belong to a live process: only `recover` at a start takes it.
    assert await engine.triggers.sweep(min_age=timedelta(0)) == 1
    await echo_saying(engine, "deployed late")
    stored = await engine.store.trigger_instances.get(busy.id)
    assert stored is not None and stored.status is TriggerInstanceStatus.PROCESSING

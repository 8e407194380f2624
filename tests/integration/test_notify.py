"""The notifier against the real engine: actiontrigger and notifytrigger instances and rules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Engine, open_engine
from bot.settings import load_settings
from core.executions.notify import notify_sections
from core.models import Execution, ExecutionStatus
from core.models.trigger_instance import TriggerInstance
from core.store.base import ExecutionQuery
from core.triggers.builtin import ACTION_TRIGGER, NOTIFY_TRIGGER
from tests.conftest import FIXTURES, write_config

S = ExecutionStatus


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    config = tmp_path / "squall.yaml"
    config.write_text(
        "store:\n"
        "  url: sqlite:///var/squall.db\n"
        "packs:\n"
        f"  paths: ['{FIXTURES / 'notify'}']\n"
        "http:\n"
        "  enabled: false\n"
        "executions:\n"
        "  max_concurrency: 2\n"
        "  shutdown_grace_seconds: 0.2\n"
    )
    async with open_engine(load_settings(config)) as opened:
        yield opened


async def run(engine: Engine, ref: str, **parameters: str) -> Execution:
    requested = await engine.executions.request(ref, parameters)
    return await engine.executions.wait(requested.id, timeout=10)


async def instances(engine: Engine, trigger: str, execution_id: str) -> list[TriggerInstance]:
    """The instances of ``trigger`` about one execution (emitted in the background)."""

    async def poll() -> list[TriggerInstance]:
        while True:
            found = await engine.store.trigger_instances.list(trigger=trigger, limit=100)
            mine = [i for i in found if i.payload["execution_id"] == execution_id]
            if mine:
                return mine
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(poll(), timeout=10)


async def echo_of(engine: Engine) -> Execution:
    async def poll() -> Execution:
        while True:
            found = await engine.store.executions.list(ExecutionQuery(limit=100))
            done = [e for e in found if e.action_ref == "core.echo" and e.is_completed]
            if done:
                return done[0]
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(poll(), timeout=10)


async def test_rule_on_actiontrigger_sees_the_status(engine: Engine) -> None:
    noop = await run(engine, "core.noop")
    assert noop.status is S.SUCCEEDED
    echo = await echo_of(engine)
    assert echo.status is S.SUCCEEDED
    assert echo.result["stdout"] == "succeeded"


async def test_actiontrigger_payload_masks_secrets(engine: Engine) -> None:
    done = await run(engine, "notify_demo.announce", who="ops", token="s3cret")
    [instance] = await instances(engine, ACTION_TRIGGER, done.id)
    payload = instance.payload
    assert payload["action_ref"] == payload["action_name"] == "notify_demo.announce"
    assert payload["status"] == "succeeded"
    assert payload["runner_ref"] == "noop"
    assert payload["parameters"]["token"] == "********"
    assert payload["parameters"]["who"] == "ops"
    assert "s3cret" not in str(payload)


async def test_notify_on_success_renders_one_route(engine: Engine) -> None:
    done = await run(engine, "notify_demo.announce", who="ops", token="s3cret")
    [instance] = await instances(engine, NOTIFY_TRIGGER, done.id)
    payload = instance.payload
    assert payload["route"] == payload["channel"] == "chat"
    assert payload["message"] == "ops announced by stanley"
    assert payload["data"]["who"] == "ops"
    assert isinstance(payload["data"]["result"], str)
    assert payload["end_timestamp"] is not None
    # on-failure (route "alerts") does not fire for a success.
    await asyncio.sleep(0.1)
    found = await engine.store.trigger_instances.list(trigger=NOTIFY_TRIGGER, limit=100)
    assert [i.payload["route"] for i in found] == ["chat"]


def test_sections_follow_the_status() -> None:
    notify = {"on-complete": {}, "on-success": {}, "on-failure": {}}
    assert notify_sections(notify, S.SUCCEEDED) == ["on-complete", "on-success"]
    for failed in (S.FAILED, S.TIMEOUT, S.ABANDONED):
        assert notify_sections(notify, failed) == ["on-complete", "on-failure"]
    assert notify_sections(notify, S.CANCELED) == ["on-complete"]


async def test_no_actiontrigger_without_a_rule_that_consumes_it(tmp_path: Path) -> None:
    settings = load_settings(write_config(tmp_path))
    async with open_engine(settings) as engine:
        execution = await engine.executions.request("core.noop", {})
        await engine.executions.wait(execution.id, timeout=10)
    # Leaving the engine awaited every completion listener, so anything emitted is stored.
    async with open_engine(settings, start=False) as reopened:
        stored = await reopened.store.trigger_instances.list(trigger=ACTION_TRIGGER)
    assert stored == []

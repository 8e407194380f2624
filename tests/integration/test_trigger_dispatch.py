"""The trigger dispatcher against a real SQLite store, real packs and real subprocesses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import Engine, open_engine
from bot.settings import Settings, load_settings
from core.models import Execution, ExecutionStatus
from core.models.trigger_instance import (
    FINISHED,
    RuleEnforcement,
    TriggerInstance,
    TriggerInstanceStatus,
)
from core.packs.index import UnknownTriggerTypeError
from core.store.base import ExecutionQuery
from core.triggers.dispatcher import webhook_source
from tests.conftest import FIXTURES

S = ExecutionStatus
T = TriggerInstanceStatus
WEBHOOK = "core.st2.webhook"


def webhook(body: dict[str, Any]) -> dict[str, Any]:
    return {"headers": {}, "headers_lower": {}, "body": body}


def settings_for(directory: Path, store_url: str = "sqlite:///var/squall.db") -> Settings:
    config = directory / "squall.yaml"
    config.write_text(
        "store:\n"
        f"  url: {store_url}\n"
        "packs:\n"
        f"  paths: ['{FIXTURES / 'dispatch'}']\n"
        "http:\n"
        "  enabled: false\n"
        "executions:\n"
        "  max_concurrency: 2\n"
        "  shutdown_grace_seconds: 0.2\n"
    )
    return load_settings(config)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with open_engine(settings_for(tmp_path)) as opened:
        yield opened


async def finished(engine: Engine, instance_id: str) -> TriggerInstance:
    async def poll() -> TriggerInstance:
        while True:
            current = await engine.store.trigger_instances.get(instance_id)
            assert current is not None
            if current.status in FINISHED:
                return current
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(poll(), timeout=10)


async def enforcements(engine: Engine, instance_id: str) -> list[RuleEnforcement]:
    return await engine.store.rule_enforcements.list(trigger_instance_id=instance_id)


async def all_executions(engine: Engine) -> list[Execution]:
    return await engine.store.executions.list(ExecutionQuery(limit=100))


async def fire(engine: Engine, url: str, body: dict[str, Any]) -> TriggerInstance:
    instance = await engine.triggers.dispatch(
        WEBHOOK, webhook(body), trigger_parameters={"url": url}
    )
    assert instance is not None
    return await finished(engine, instance.id)


async def only_execution(engine: Engine, instance_id: str) -> Execution:
    (enforcement,) = await enforcements(engine, instance_id)
    assert enforcement.execution_id is not None
    return await engine.executions.wait(enforcement.execution_id, timeout=20)


async def test_matching_rule_runs_its_action(engine: Engine) -> None:
    instance = await fire(engine, "sample", {"name": "st2"})
    assert instance.status is T.PROCESSED
    done = await only_execution(engine, instance.id)
    assert done.status is S.SUCCEEDED
    assert done.action_ref == "core.echo"
    assert done.result["stdout"] == "st2"
    assert done.context["rule"]["ref"] == "dispatch_demo.greet"
    assert done.context["trigger_instance"]["id"] == instance.id
    assert done.context["user"] == "stanley"


async def test_non_matching_payload_fires_nothing(engine: Engine) -> None:
    instance = await fire(engine, "sample", {"name": "someone else"})
    assert instance.status is T.PROCESSED
    assert await enforcements(engine, instance.id) == []
    assert await all_executions(engine) == []


async def test_duplicate_dedupe_key_is_dispatched_once(engine: Engine) -> None:
    first = await engine.triggers.dispatch(
        WEBHOOK, webhook({"name": "st2"}), trigger_parameters={"url": "sample"}, dedupe_key="d1"
    )
    second = await engine.triggers.dispatch(
        WEBHOOK, webhook({"name": "st2"}), trigger_parameters={"url": "sample"}, dedupe_key="d1"
    )
    assert first is not None and second is None
    await finished(engine, first.id)
    assert len(await all_executions(engine)) == 1


async def test_unknown_trigger_type_is_refused(engine: Engine) -> None:
    with pytest.raises(UnknownTriggerTypeError):
        await engine.triggers.dispatch("nope.nothing", {})
    assert await engine.store.trigger_instances.list() == []


async def test_payload_is_never_rendered(engine: Engine) -> None:
    instance = await fire(engine, "literal", {"text": "{{ 7*7 }}"})
    done = await only_execution(engine, instance.id)
    assert done.status is S.SUCCEEDED
    assert done.result["stdout"] == "{{ 7*7 }}"


async def test_render_failure_is_a_failed_execution(engine: Engine) -> None:
    instance = await fire(engine, "broken", {"name": "st2"})
    assert instance.status is T.PROCESSED
    (enforcement,) = await enforcements(engine, instance.id)
    assert enforcement.failure_reason
    done = await only_execution(engine, instance.id)
    assert done.status is S.FAILED
    assert done.result["error"] == enforcement.failure_reason
    assert done.context["rule"]["ref"] == "dispatch_demo.broken"


async def test_one_broken_rule_does_not_stop_the_others(engine: Engine) -> None:
    instance = await fire(engine, "pair", {})
    assert instance.status is T.PROCESSED
    found = {e.rule_ref: e for e in await enforcements(engine, instance.id)}
    disabled_id = found["dispatch_demo.pair_disabled"].execution_id
    assert disabled_id is not None
    refused = await engine.executions.wait(disabled_id, timeout=20)
    assert refused.status is S.FAILED
    assert "disabled" in refused.result["error"]
    echo_id = found["dispatch_demo.pair_echo"].execution_id
    assert echo_id is not None
    done = await engine.executions.wait(echo_id, timeout=20)
    assert done.result["stdout"] == "paired"


async def store_instance(settings: Settings, instance: TriggerInstance) -> None:
    async with open_engine(settings, start=False) as opened:
        assert await opened.store.trigger_instances.insert(instance)
        if instance.status is T.PROCESSING:
            await opened.store.rule_enforcements.insert(
                RuleEnforcement.new("dispatch_demo.greet", instance.id)
            )


async def test_recover_processes_a_pending_instance_once(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    # As if the process died right after acknowledging the webhook.
    pending = TriggerInstance.new(
        WEBHOOK, webhook({"name": "st2"}), webhook_source("sample"), None, {"url": "sample"}
    )
    await store_instance(settings, pending)
    for _ in range(2):  # a second restart must not fire it again
        async with open_engine(settings) as engine:
            assert (await finished(engine, pending.id)).status is T.PROCESSED
            done = await only_execution(engine, pending.id)
            assert done.status is S.SUCCEEDED
            assert len(await all_executions(engine)) == 1


async def test_recover_does_not_rerun_an_enforced_rule(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    # As if the process died after storing the enforcement, before finishing the instance.
    instance = TriggerInstance.new(
        WEBHOOK, webhook({"name": "st2"}), webhook_source("sample"), None, {"url": "sample"}
    )
    await store_instance(settings, instance.transition(T.PROCESSING))
    async with open_engine(settings) as engine:
        assert (await finished(engine, instance.id)).status is T.PROCESSED
        assert len(await enforcements(engine, instance.id)) == 1
        assert await all_executions(engine) == []


async def test_criteria_pattern_reads_the_datastore(engine: Engine) -> None:
    assert engine.kv is not None
    await engine.kv.set("allowed_name", "ann")
    instance = await fire(engine, "kv_gate", {"name": "preannpost"})
    done = await only_execution(engine, instance.id)
    assert done.status is S.SUCCEEDED and done.result["stdout"] == "preannpost"
    other = await fire(engine, "kv_gate", {"name": "prebobpost"})
    assert await enforcements(engine, other.id) == []

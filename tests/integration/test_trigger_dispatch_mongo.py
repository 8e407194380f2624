"""The trigger dispatcher on MongoDB, where an arriving instance is stored as it arrived and
then settled (two steps): the process's own sweep must leave it to its dispatch meanwhile."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from motor.motor_asyncio import AsyncIOMotorClient

from bot.app import Engine, open_engine
from core.models.trigger_instance import TriggerInstanceStatus
from core.store.mongo_events import MongoTriggerInstances
from tests.integration.test_trigger_dispatch import settings_for

T = TriggerInstanceStatus
WEBHOOK = "core.st2.webhook"


@pytest.fixture
async def engine(tmp_path: Path, mongo_url: str) -> AsyncIterator[Engine]:
    database = f"squall_test_{uuid.uuid4().hex[:12]}"
    settings = settings_for(tmp_path, f"{mongo_url.rstrip('/')}/{database}")
    client: Any = AsyncIOMotorClient(mongo_url)
    try:
        async with open_engine(settings) as opened:
            assert opened.settings.store.url.startswith("mongodb://")
            yield opened
    finally:
        await client.drop_database(database)
        client.close()


async def test_the_sweep_leaves_an_arriving_instance_to_its_own_dispatch(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the insert and the settle the instance is ``pending`` in the store, and the
    sweep's age is counted from its arrival (before the evaluation): a slow evaluation or
    store made this process's own sweep evaluate it a second time, and whichever settle
    stored the execution was not always the one that won the CAS, so nobody here started it."""
    instances = engine.store.trigger_instances
    real_settle = MongoTriggerInstances.settle
    inserted, release = asyncio.Event(), asyncio.Event()

    async def slow_settle(self: MongoTriggerInstances, *args: Any, **kwargs: Any) -> Any:
        inserted.set()
        await release.wait()
        return await real_settle(self, *args, **kwargs)

    monkeypatch.setattr(MongoTriggerInstances, "settle", slow_settle)
    body = {"headers": {}, "headers_lower": {}, "body": {"name": "st2"}}
    dispatch = asyncio.create_task(
        engine.triggers.dispatch(WEBHOOK, body, trigger_parameters={"url": "sample"})
    )
    try:
        await asyncio.wait_for(inserted.wait(), timeout=10)
        assert [i.status for i in await instances.list_unfinished()] == [T.PENDING]
        assert await engine.triggers.sweep(min_age=timedelta(0)) == 0
    finally:
        release.set()
        instance = await asyncio.wait_for(dispatch, timeout=10)
    assert instance is not None
    stored = await instances.get(instance.id)
    assert stored is not None and stored.status is T.PROCESSED
    (enforcement,) = await engine.store.rule_enforcements.list(trigger_instance_id=instance.id)
    assert enforcement.execution_id is not None
    done = await engine.executions.wait(enforcement.execution_id, timeout=20)
    assert done.result["stdout"] == "st2"

"""Garbage collection on a real SQLite file with an injected clock, and its loop in the engine."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import gc_policy, open_engine
from bot.settings import load_settings
from bot.settings.errors import SettingsError
from core.kv import SYSTEM, KeyValuePair
from core.models import Execution, ExecutionStatus, RuleEnforcement, TriggerInstance
from core.models import TriggerInstanceStatus as T
from core.models.lease import OutboxItem
from core.store import ExecutionQuery, Store, open_store
from core.store.gc import GarbageCollector, GcCounts, GcPolicy

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
MONTH = GcPolicy(
    executions_ttl=timedelta(days=30),
    trigger_instances_ttl=timedelta(days=30),
    rule_enforcements_ttl=timedelta(days=30),
)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def execution(status: ExecutionStatus, ended_days_ago: float | None = None) -> Execution:
    made = Execution.request("core.noop", "noop", {}, {"user": "gc"}, None)
    end = None if ended_days_ago is None else days_ago(ended_days_ago)
    return made.with_changes(status=status, start_timestamp=days_ago(90), end_timestamp=end)


def instance(occurred_days_ago: float, *steps: T) -> TriggerInstance:
    made = TriggerInstance.new("core.st2.webhook", {"n": 1}, source="webhook:gc")
    at = days_ago(occurred_days_ago)
    made = replace(made, occurrence_time=at, log=(replace(made.log[0], timestamp=at),))
    for status in steps:
        made = made.transition(status)
    return made


def enforcement(enforced_days_ago: float) -> RuleEnforcement:
    made = RuleEnforcement.new("gc.rule", f"ti-{enforced_days_ago}")
    return replace(made, enforced_at=days_ago(enforced_days_ago))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = open_store("sqlite:///gc.db", base_dir=str(tmp_path))
    await opened.open()
    yield opened
    await opened.close()


async def insert_executions(store: Store, *items: Execution) -> None:
    for item in items:
        await store.executions.insert(item)


async def execution_ids(store: Store) -> set[str]:
    return {e.id for e in await store.executions.list(ExecutionQuery(limit=100))}


async def test_only_finished_executions_past_their_ttl_are_deleted(store: Store) -> None:
    old_done = execution(ExecutionStatus.SUCCEEDED, ended_days_ago=40)
    old_failed = execution(ExecutionStatus.FAILED, ended_days_ago=31)
    recent_done = execution(ExecutionStatus.SUCCEEDED, ended_days_ago=29)
    old_running = execution(ExecutionStatus.RUNNING)  # started 90 days ago, still running
    old_requested = execution(ExecutionStatus.REQUESTED)
    await insert_executions(store, old_done, old_failed, recent_done, old_running, old_requested)

    counts = await GarbageCollector(store, MONTH, now=lambda: NOW).run_once(NOW)

    assert counts.executions == 2
    assert await execution_ids(store) == {recent_done.id, old_running.id, old_requested.id}


async def test_unprocessed_instances_are_kept_however_old(store: Store) -> None:
    processed = instance(40, T.PROCESSING, T.PROCESSED)
    failed = instance(40, T.PROCESSING_FAILED)
    recent = instance(10, T.PROCESSING, T.PROCESSED)
    pending = instance(400)
    processing = instance(400, T.PROCESSING)
    for item in (processed, failed, recent, pending, processing):
        assert await store.trigger_instances.insert(item)

    counts = await GarbageCollector(store, MONTH, now=lambda: NOW).run_once(NOW)

    assert counts.trigger_instances == 2
    left = {i.id for i in await store.trigger_instances.list(limit=100)}
    assert left == {recent.id, pending.id, processing.id}


async def test_enforcements_and_expired_keys(store: Store) -> None:
    old, recent = enforcement(31), enforcement(1)
    for item in (old, recent):
        assert await store.rule_enforcements.insert(item)
    await store.kv.put(KeyValuePair(name="gone", value="v", scope=SYSTEM, expire_timestamp=NOW))
    await store.kv.put(KeyValuePair(name="kept", value="v", scope=SYSTEM))

    counts = await GarbageCollector(store, MONTH, now=lambda: NOW).run_once(NOW)

    assert counts == GcCounts(rule_enforcements=1, kv_expired=1)
    assert [e.id for e in await store.rule_enforcements.list()] == [recent.id]
    assert [p.name for p in await store.kv.list(SYSTEM)] == ["kept"]


async def test_without_ttls_nothing_but_expired_keys_is_deleted(store: Store) -> None:
    done = execution(ExecutionStatus.SUCCEEDED, ended_days_ago=4000)
    await insert_executions(store, done)
    assert await store.trigger_instances.insert(instance(4000, T.PROCESSING, T.PROCESSED))
    assert await store.rule_enforcements.insert(enforcement(4000))

    counts = await GarbageCollector(store, GcPolicy(), now=lambda: NOW).run_once(NOW)

    assert counts == GcCounts()
    assert await execution_ids(store) == {done.id}
    assert len(await store.trigger_instances.list()) == 1
    assert len(await store.rule_enforcements.list()) == 1


async def test_a_pass_logs_its_counts(store: Store, caplog: pytest.LogCaptureFixture) -> None:
    await insert_executions(store, execution(ExecutionStatus.SUCCEEDED, ended_days_ago=40))
    with caplog.at_level(logging.INFO, logger="core.store.gc"):
        await GarbageCollector(store, MONTH, now=lambda: NOW).run_once(NOW)
    assert "garbage collection deleted executions=1 trigger_instances=0" in caplog.text


async def test_an_idle_pass_stays_out_of_the_info_log(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="core.store.gc"):
        assert await GarbageCollector(store, MONTH, now=lambda: NOW).run_once(NOW) == GcCounts()
    assert caplog.text == ""


async def test_outbox_items_nobody_delivered_within_their_life_are_dropped_and_logged(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    for n, hours in enumerate((30, 25, 2)):
        stale = OutboxItem(
            f"i{n}", "chat:gone", "execution.completed", f"e{n}", NOW - timedelta(hours=hours)
        )
        await store.outbox.put(stale)
    policy = GcPolicy(outbox_ttl=timedelta(days=1))
    with caplog.at_level(logging.WARNING, logger="core.store.gc"):
        counts = await GarbageCollector(store, policy, now=lambda: NOW).run_once(NOW)
    assert counts == GcCounts(outbox_expired=2)
    assert await store.outbox.count() == 1
    assert "dropped 2 item(s) for chat:gone waiting over 1 day" in caplog.text
    # Without a life (cluster.outbox_ttl_seconds: null) nothing goes.
    later = NOW + timedelta(days=30)
    assert await GarbageCollector(store, MONTH, now=lambda: later).run_once(later) == GcCounts()


def test_the_outbox_life_defaults_to_a_day_and_null_keeps_items(tmp_path: Path) -> None:
    assert gc_policy(load_settings(write_config(tmp_path, ""))).outbox_ttl == timedelta(days=1)
    path = write_config(tmp_path, "cluster: {outbox_ttl_seconds: null}\n")
    assert gc_policy(load_settings(path)).outbox_ttl is None
    with pytest.raises(SettingsError) as caught:
        load_settings(write_config(tmp_path, "cluster: {outbox_ttl_seconds: 5}\n"))
    assert caught.value.errors == ["cluster.outbox_ttl_seconds: expected number >= 60.0, got 5.0"]


def write_config(tmp_path: Path, gc: str) -> Path:
    config = tmp_path / "squall.yaml"
    config.write_text(
        "store:\n  url: sqlite:///var/squall.db\nhttp:\n  enabled: false\n"
        "executions:\n  max_concurrency: 2\ngc:\n" + gc
    )
    return config


async def test_serve_engine_collects_periodically(tmp_path: Path) -> None:
    """The engine of ``squall serve`` runs passes with the real clock: a record that ended
    two days ago goes with a one-day TTL, one that ended an hour ago stays."""
    settings = load_settings(
        write_config(tmp_path, "  executions_ttl_days: 1\n  interval_seconds: 1\n")
    )
    now = datetime.now(UTC)
    old = execution(ExecutionStatus.SUCCEEDED).with_changes(end_timestamp=now - timedelta(days=2))
    fresh = execution(ExecutionStatus.SUCCEEDED).with_changes(
        end_timestamp=now - timedelta(hours=1)
    )
    async with open_engine(settings) as engine:
        await insert_executions(engine.store, old, fresh)
        async with asyncio.timeout(10):
            while old.id in await execution_ids(engine.store):
                await asyncio.sleep(0.05)
        assert await execution_ids(engine.store) == {fresh.id}


async def test_the_loop_is_off_when_interval_is_null(tmp_path: Path) -> None:
    settings = load_settings(
        write_config(tmp_path, "  executions_ttl_days: 1\n  interval_seconds: null\n")
    )
    old = execution(ExecutionStatus.SUCCEEDED).with_changes(
        end_timestamp=datetime.now(UTC) - timedelta(days=2)
    )
    async with open_engine(settings) as engine:
        await insert_executions(engine.store, old)
        assert not any(t.get_name() == "garbage-collector" for t in asyncio.all_tasks())
        assert await execution_ids(engine.store) == {old.id}


def test_a_ttl_below_one_day_is_refused_with_its_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(write_config(tmp_path, "  trigger_instances_ttl_days: 0.5\n"))
    assert caught.value.errors == ["gc.trigger_instances_ttl_days: expected number >= 1.0, got 0.5"]

"""Trigger instance and rule enforcement repositories, run on every backend (conftest)."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.models import RuleEnforcement, TriggerInstance, TriggerInstanceStatus
from core.store import Store, StoreError
from core.store.mongo import MongoStore

from .conftest import StoreFactory

T = TriggerInstanceStatus
BASE = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
WEBHOOK = "core.st2.webhook"


def instance(n: int, trigger: str = WEBHOOK, dedupe_key: str | None = None) -> TriggerInstance:
    made = TriggerInstance.new(trigger, {"n": n}, source="webhook:sample", dedupe_key=dedupe_key)
    at = BASE + timedelta(seconds=n)
    return replace(made, occurrence_time=at, log=(replace(made.log[0], timestamp=at),))


def enforcement(n: int, rule_ref: str = "pack.rule", instance_id: str = "ti") -> RuleEnforcement:
    made = RuleEnforcement.new(rule_ref, f"{instance_id}{n}")
    return replace(made, enforced_at=BASE + timedelta(seconds=n))


def ids(items: list[TriggerInstance] | list[RuleEnforcement]) -> list[str]:
    return [item.id for item in items]


# -- trigger instances --------------------------------------------------------------------


async def test_instance_round_trips_arbitrary_json(store: Store) -> None:
    payload = {
        "headers": {"Content.Type": "json", "$ref": "x", "a\\b": [{"x.y": None}]},
        "body": {"é": 1.5, "list": [1, "two", True], "nul\0": {}},
    }
    stored = replace(instance(1, dedupe_key="delivery-1"), payload=payload)
    assert await store.trigger_instances.insert(stored) is True
    assert await store.trigger_instances.get(stored.id) == stored
    assert await store.trigger_instances.get("missing") is None


async def test_dedupe_key_stores_a_replayed_delivery_once(store: Store) -> None:
    first = instance(1, dedupe_key="gh-1")
    assert await store.trigger_instances.insert(first) is True
    assert await store.trigger_instances.insert(instance(2, dedupe_key="gh-1")) is False
    # The same key on another trigger, and instances without a key, do not collide.
    assert await store.trigger_instances.insert(instance(3, "pack.other", "gh-1")) is True
    assert await store.trigger_instances.insert(instance(4)) is True
    assert await store.trigger_instances.insert(instance(5)) is True
    assert len(await store.trigger_instances.list(trigger=WEBHOOK)) == 3
    # A duplicate id is refused the same way.
    assert await store.trigger_instances.insert(first) is False


async def test_concurrent_duplicate_deliveries_store_exactly_one(store: Store) -> None:
    copies = [instance(n, dedupe_key="race") for n in range(8)]
    results = await asyncio.gather(*(store.trigger_instances.insert(c) for c in copies))
    assert sorted(results) == [False] * 7 + [True]
    assert len(await store.trigger_instances.list()) == 1


async def test_list_is_newest_first_with_filters_and_paging(store: Store) -> None:
    made = [instance(n, "pack.a" if n % 2 else "pack.b") for n in range(6)]
    for item in made:
        await store.trigger_instances.insert(item)
    processing = made[2].transition(T.PROCESSING)
    assert await store.trigger_instances.replace(processing, expected_status=T.PENDING)
    newest = list(reversed(ids(made)))
    assert ids(await store.trigger_instances.list()) == newest
    assert ids(await store.trigger_instances.list(trigger="pack.a")) == newest[::2]
    assert ids(await store.trigger_instances.list(status=T.PROCESSING)) == [made[2].id]
    assert ids(await store.trigger_instances.list(trigger="pack.a", status=T.PROCESSING)) == []
    assert ids(await store.trigger_instances.list(limit=2, offset=1)) == newest[1:3]


async def test_list_and_count_between_occurrence_times(store: Store) -> None:
    made = [instance(n, "pack.a" if n % 2 else "pack.b") for n in range(6)]
    for item in made:
        await store.trigger_instances.insert(item)
    repo = store.trigger_instances
    after, before = BASE + timedelta(seconds=1), BASE + timedelta(seconds=5)  # exclusive
    assert ids(await repo.list(after=after, before=before)) == ids(made[4:1:-1])
    assert ids(await repo.list(after=after)) == ids(made[:1:-1])
    assert ids(await repo.list("pack.a", before=before)) == [made[3].id, made[1].id]
    assert ids(await repo.list(after=after, limit=1, offset=1)) == [made[4].id]
    assert await repo.count() == 6
    assert await repo.count("pack.a") == 3
    assert await repo.count(after=after, before=before) == 3
    assert await repo.count("pack.b", T.PENDING, after=after) == 2
    assert await repo.count(status=T.PROCESSING) == 0


async def test_replace_is_a_compare_and_set(store: Store) -> None:
    item = instance(1)
    await store.trigger_instances.insert(item)
    processing = item.transition(T.PROCESSING)
    other = item.transition(T.PROCESSING_FAILED)
    wins = await asyncio.gather(
        store.trigger_instances.replace(processing, expected_status=T.PENDING),
        store.trigger_instances.replace(other, expected_status=T.PENDING),
    )
    assert sorted(wins) == [False, True]
    winner = processing if wins[0] else other
    assert await store.trigger_instances.get(item.id) == winner
    assert not await store.trigger_instances.replace(instance(9), expected_status=T.PENDING)


async def test_list_unfinished_is_oldest_first(store: Store) -> None:
    made = [instance(n) for n in range(5)]
    for item in reversed(made):
        await store.trigger_instances.insert(item)
    await _move(store, made[1], T.PROCESSING)
    await _move(store, made[2], T.PROCESSING, T.PROCESSED)
    await _move(store, made[3], T.PROCESSING_FAILED)
    unfinished = await store.trigger_instances.list_unfinished(limit=10)
    assert ids(unfinished) == [made[0].id, made[1].id, made[4].id]
    assert ids(await store.trigger_instances.list_unfinished(limit=2)) == ids(unfinished)[:2]


async def test_gc_removes_only_finished_instances_before_the_cutoff(store: Store) -> None:
    made = [instance(n) for n in range(5)]
    for item in made:
        await store.trigger_instances.insert(item)
    await _move(store, made[0], T.PROCESSING, T.PROCESSED)
    await _move(store, made[1], T.PROCESSING_FAILED)
    await _move(store, made[2], T.PROCESSING)
    await _move(store, made[4], T.PROCESSING, T.PROCESSED)
    cutoff = BASE + timedelta(seconds=4)  # made[4] occurred exactly at the cutoff: kept
    assert await store.trigger_instances.delete_before(cutoff) == 2
    assert await store.trigger_instances.delete_before(cutoff) == 0
    assert ids(await store.trigger_instances.list()) == [made[4].id, made[3].id, made[2].id]


async def _move(store: Store, item: TriggerInstance, *statuses: TriggerInstanceStatus) -> None:
    for status in statuses:
        moved = item.transition(status)
        assert await store.trigger_instances.replace(moved, expected_status=item.status)
        item = moved


# -- rule enforcements --------------------------------------------------------------------


async def test_enforcement_round_trips(store: Store) -> None:
    ok = enforcement(1)
    failed = replace(enforcement(2), failure_reason="criteria: bad regex")
    assert await store.rule_enforcements.insert(ok) is True
    assert await store.rule_enforcements.insert(failed) is True
    assert await store.rule_enforcements.get(ok.id) == ok
    assert await store.rule_enforcements.get(failed.id) == failed
    assert await store.rule_enforcements.get("missing") is None


async def test_a_rule_is_enforced_once_per_instance(store: Store) -> None:
    assert await store.rule_enforcements.insert(enforcement(1)) is True
    again = enforcement(1)  # a new id, same rule and instance
    assert await store.rule_enforcements.insert(again) is False
    assert await store.rule_enforcements.get(again.id) is None
    assert await store.rule_enforcements.insert(enforcement(1, rule_ref="pack.other")) is True
    assert await store.rule_enforcements.insert(enforcement(2)) is True


async def test_concurrent_enforcements_store_exactly_one(store: Store) -> None:
    copies = [enforcement(1) for _ in range(8)]
    results = await asyncio.gather(*(store.rule_enforcements.insert(c) for c in copies))
    assert sorted(results) == [False] * 7 + [True]
    assert len(await store.rule_enforcements.list()) == 1


async def test_enforcement_list_filters_and_pages(store: Store) -> None:
    made = [enforcement(n, "pack.a" if n % 2 else "pack.b", "ti") for n in range(6)]
    for item in made:
        await store.rule_enforcements.insert(item)
    newest = list(reversed(ids(made)))
    assert ids(await store.rule_enforcements.list()) == newest
    assert ids(await store.rule_enforcements.list(rule_ref="pack.a")) == newest[::2]
    by_instance = await store.rule_enforcements.list(trigger_instance_id="ti3")
    assert ids(by_instance) == [made[3].id]
    assert await store.rule_enforcements.list(rule_ref="pack.b", trigger_instance_id="ti3") == []
    assert ids(await store.rule_enforcements.list(limit=2, offset=2)) == newest[2:4]
    assert await store.rule_enforcements.count() == 6
    assert await store.rule_enforcements.count(rule_ref="pack.a") == 3
    assert await store.rule_enforcements.count("pack.a", "ti3") == 1
    assert await store.rule_enforcements.count("pack.b", "ti3") == 0


async def test_enforcement_gc(store: Store) -> None:
    made = [enforcement(n) for n in range(4)]
    for item in made:
        await store.rule_enforcements.insert(item)
    assert await store.rule_enforcements.delete_before(BASE + timedelta(seconds=2)) == 2
    assert ids(await store.rule_enforcements.list()) == [made[3].id, made[2].id]


async def test_events_survive_reopening(make_store: StoreFactory) -> None:
    first = make_store()
    await first.open()
    item, fired = instance(1, dedupe_key="k"), enforcement(1)
    await first.trigger_instances.insert(item)
    await first.rule_enforcements.insert(fired)
    await first.close()
    second = make_store()
    await second.open()
    assert await second.trigger_instances.get(item.id) == item
    assert await second.rule_enforcements.get(fired.id) == fired
    assert await second.trigger_instances.insert(instance(2, dedupe_key="k")) is False


async def test_a_closed_store_has_no_event_repositories(make_store: StoreFactory) -> None:
    closed = make_store()
    with pytest.raises(StoreError, match="not open"):
        _ = closed.trigger_instances
    with pytest.raises(StoreError, match="not open"):
        _ = closed.rule_enforcements


# -- backend specifics --------------------------------------------------------------------


async def test_sqlite_queries_use_the_indexes(tmp_path: Path) -> None:
    from core.store.sqlite import SqliteStore

    store = SqliteStore(tmp_path / "events.db")
    await store.open()
    await store.close()
    conn = sqlite3.connect(tmp_path / "events.db")
    try:
        unfinished = conn.execute(
            "EXPLAIN QUERY PLAN SELECT doc FROM trigger_instances WHERE status IN ('a', 'b')"
            " ORDER BY occurrence_time, id LIMIT 5"
        ).fetchall()
        by_rule = conn.execute(
            "EXPLAIN QUERY PLAN SELECT doc FROM rule_enforcements WHERE rule_ref = 'r'"
            " ORDER BY enforced_at DESC, id DESC"
        ).fetchall()
    finally:
        conn.close()
    assert "trigger_instances_status" in str(unfinished)
    assert "rule_enforcements_rule" in str(by_rule)


async def test_mongo_event_indexes(mongo_db: tuple[Any, str]) -> None:
    client, name = mongo_db
    store = MongoStore(client, database=name)
    await store.open()
    try:
        db = client[name]
        instances = await db["trigger_instances"].index_information()
        enforcements = await db["rule_enforcements"].index_information()
    finally:
        await store.close()
    assert instances["dedupe"]["unique"] is True
    assert enforcements["rule_instance"]["unique"] is True

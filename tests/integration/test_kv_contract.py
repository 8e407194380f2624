"""The KeyValueRepository contract, run unchanged on every backend (see conftest.make_store)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.kv import SYSTEM, USER, KeyValuePair
from core.store import Store, StoreError, mongo, sqlite_schema
from core.store.mongo import MongoStore
from core.store.sqlite import SqliteStore

from .conftest import StoreFactory

NOW = datetime.now(UTC)
FUTURE = NOW + timedelta(days=365)
PAST = NOW - timedelta(days=1)


def pair(name: str, value: str = "v", scope: str = SYSTEM, **fields: Any) -> KeyValuePair:
    return KeyValuePair(name=name, value=value, scope=scope, **fields)


def names(pairs: list[KeyValuePair]) -> list[str]:
    return [p.name for p in pairs]


async def test_put_then_get_round_trips_every_field(store: Store) -> None:
    stored = pair(
        "db.password",
        "sq1:abc:token",
        secret=True,
        encrypted=True,
        expire_timestamp=FUTURE,
        description="the password",
    )
    await store.kv.put(stored)
    assert await store.kv.get(SYSTEM, "db.password") == stored


async def test_get_missing_is_none_and_scopes_are_separate(store: Store) -> None:
    await store.kv.put(pair("alice:x", scope=USER))
    assert await store.kv.get(SYSTEM, "alice:x") is None
    assert await store.kv.get(USER, "alice:y") is None
    assert await store.kv.get("st2kv.user", "alice:x") == pair("alice:x", scope=USER)


async def test_put_replaces(store: Store) -> None:
    await store.kv.put(pair("k", "one", expire_timestamp=FUTURE))
    await store.kv.put(pair("k", "two"))
    assert await store.kv.get(SYSTEM, "k") == pair("k", "two")
    assert names(await store.kv.list(SYSTEM)) == ["k"]


async def test_delete(store: Store) -> None:
    await store.kv.put(pair("k"))
    assert await store.kv.delete(SYSTEM, "k") is True
    assert await store.kv.delete(SYSTEM, "k") is False
    assert await store.kv.get(SYSTEM, "k") is None


async def test_expired_items_are_invisible_until_swept(store: Store) -> None:
    await store.kv.put(pair("old", expire_timestamp=PAST))
    await store.kv.put(pair("live", expire_timestamp=FUTURE))
    await store.kv.put(pair("forever"))
    assert await store.kv.get(SYSTEM, "old") is None
    assert names(await store.kv.list(SYSTEM)) == ["forever", "live"]
    assert await store.kv.delete_expired(NOW) == 1
    assert await store.kv.delete_expired(NOW) == 0
    # Expiry is inclusive: an item expiring exactly at ``now`` is gone.
    assert await store.kv.delete_expired(FUTURE) == 1
    assert names(await store.kv.list(SYSTEM)) == ["forever"]


async def test_list_sorts_and_filters_by_prefix(store: Store) -> None:
    for name in ("b.x", "a.y", "a.x", "a%z", "ab"):
        await store.kv.put(pair(name))
    assert names(await store.kv.list(SYSTEM)) == ["a%z", "a.x", "a.y", "ab", "b.x"]
    assert names(await store.kv.list(SYSTEM, prefix="a.")) == ["a.x", "a.y"]
    # Neither SQL LIKE nor regex metacharacters act as patterns.
    assert names(await store.kv.list(SYSTEM, prefix="a%")) == ["a%z"]
    assert names(await store.kv.list(SYSTEM, prefix="a.*")) == []
    assert await store.kv.list(USER) == []


async def test_list_by_user(store: Store) -> None:
    for name in ("alice:a", "alice:b.1", "alicia:a", "bob:a"):
        await store.kv.put(pair(name, scope=USER))
    assert names(await store.kv.list(USER, user="alice")) == ["alice:a", "alice:b.1"]
    assert names(await store.kv.list(USER, prefix="b", user="alice")) == ["alice:b.1"]
    assert len(await store.kv.list(USER)) == 4


async def test_items_survive_reopening(make_store: StoreFactory) -> None:
    first = make_store()
    await first.open()
    await first.kv.put(pair("k", "kept"))
    await first.close()
    second = make_store()
    await second.open()
    assert await second.kv.get(SYSTEM, "k") == pair("k", "kept")


# -- backend specifics --------------------------------------------------------------------


def write_v2_file(path: Path) -> None:
    """A file as schema v2 left it, before the datastore existed."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT)")
        for version, migration in enumerate(sqlite_schema.MIGRATIONS[:2], start=1):
            for statement in migration:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version VALUES (?, 'earlier')", (version,))
        conn.commit()
    finally:
        conn.close()


async def test_sqlite_v2_file_gains_the_kv_table(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    write_v2_file(path)
    store = SqliteStore(path)
    await store.open()
    try:
        assert await store.schema_version() == sqlite_schema.LATEST
        await store.kv.put(pair("k", expire_timestamp=FUTURE))
        assert await store.kv.get(SYSTEM, "k") == pair("k", expire_timestamp=FUTURE)
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    try:
        plan = conn.execute(
            "EXPLAIN QUERY PLAN DELETE FROM kv"
            " WHERE expire_timestamp IS NOT NULL AND expire_timestamp <= 'x'"
        ).fetchall()
    finally:
        conn.close()
    assert "kv_expire" in str(plan)


async def test_mongo_kv_indexes(mongo_db: tuple[Any, str]) -> None:
    client, name = mongo_db
    store = MongoStore(client, database=name)
    await store.open()
    try:
        indexes = await client[name]["kv"].index_information()
        assert indexes["scope_name"]["unique"] is True
        assert await store.schema_version() == mongo.SCHEMA_VERSION
    finally:
        await store.close()


async def test_a_closed_store_has_no_kv(make_store: StoreFactory) -> None:
    with pytest.raises(StoreError, match="not open"):
        _ = make_store().kv

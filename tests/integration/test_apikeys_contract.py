"""API key and rule state repositories, run on every backend (conftest)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.models.apikey import ApiKey
from core.models.rule_state import overrides_of
from core.store import Store, StoreError, open_store
from core.webhooks.apikeys import generate_api_key, key_id_of_hash

from .conftest import StoreFactory

BASE = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def new_key(n: int, name: str = "") -> tuple[str, ApiKey]:
    plaintext, stored = generate_api_key()
    made = ApiKey(
        id=key_id_of_hash(stored),
        key_hash=stored,
        created_at=BASE + timedelta(seconds=n),
        name=name or f"key{n}",
        created_by="cli",
    )
    return plaintext, made


# -- api keys -------------------------------------------------------------------------------


async def test_a_key_is_found_by_its_hash_until_revoked(store: Store) -> None:
    _, key = new_key(1)
    await store.api_keys.insert(key)
    assert await store.api_keys.find_by_hash(key.key_hash) == key
    assert await store.api_keys.find_by_hash("sha256:" + "0" * 64) is None
    at = BASE + timedelta(hours=1)
    assert await store.api_keys.revoke(key.id, at) is True
    assert await store.api_keys.find_by_hash(key.key_hash) is None
    # Revoking twice, or an unknown id, changes nothing and says so.
    assert await store.api_keys.revoke(key.id, at + timedelta(hours=1)) is False
    assert await store.api_keys.revoke("nope", at) is False
    [listed] = await store.api_keys.list()
    assert listed == key.revoke(at) and listed.revoked


async def test_list_is_oldest_first_and_keeps_revoked_keys(store: Store) -> None:
    keys = [new_key(n)[1] for n in (3, 1, 2)]
    for key in keys:
        await store.api_keys.insert(key)
    await store.api_keys.revoke(keys[0].id, BASE)
    listed = await store.api_keys.list()
    assert [k.name for k in listed] == ["key1", "key2", "key3"]
    assert [k.revoked for k in listed] == [False, False, True]


async def test_a_duplicate_key_is_refused(store: Store) -> None:
    _, key = new_key(1)
    await store.api_keys.insert(key)
    with pytest.raises(StoreError, match=key.id):
        await store.api_keys.insert(key)
    assert len(await store.api_keys.list()) == 1


async def test_keys_survive_a_reopen(make_store: StoreFactory) -> None:
    first = make_store()
    await first.open()
    _, key = new_key(1)
    await first.api_keys.insert(key)
    await first.close()
    second = make_store()
    await second.open()
    assert await second.api_keys.find_by_hash(key.key_hash) == key


async def test_sqlite_stores_only_the_hash(tmp_path: Path) -> None:
    store = open_store("sqlite:///squall.db", base_dir=str(tmp_path))
    await store.open()
    plaintext, key = new_key(1)
    await store.api_keys.insert(key)
    await store.close()
    with sqlite3.connect(tmp_path / "squall.db") as db:
        dump = "\n".join(db.iterdump())
    assert plaintext not in dump and key.key_hash in dump


# -- rule states ----------------------------------------------------------------------------


async def test_rule_states_are_upserted_and_listed_by_ref(store: Store) -> None:
    assert await store.rule_states.list() == []
    await store.rule_states.set("pack.b", True, "alice")
    await store.rule_states.set("pack.a", True, "alice")
    latest = await store.rule_states.set("pack.a", False, "bob")
    states = await store.rule_states.list()
    assert [s.ref for s in states] == ["pack.a", "pack.b"]
    assert states[0] == latest and latest.updated_by == "bob"
    assert overrides_of(states) == {"pack.a": False, "pack.b": True}


async def test_concurrent_rule_state_writes_leave_one_row(store: Store) -> None:
    await asyncio.gather(*(store.rule_states.set("pack.r", n % 2 == 0, "u") for n in range(6)))
    assert [s.ref for s in await store.rule_states.list()] == ["pack.r"]

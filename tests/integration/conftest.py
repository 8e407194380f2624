"""Store fixtures: each contract test runs on SQLite and on a real MongoDB-protocol server
(the session's SecantusDB) through both drivers, motor and PyMongo's AsyncMongoClient."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from motor.motor_asyncio import AsyncIOMotorClient

from core.kv import KeyRing, generate_key
from core.kv.service import KeyValueService
from core.store import Store, open_store
from core.store.mongo import MongoStore

MONGO_BACKENDS = {"motor": "motor", "pymongo": "pymongo-async"}

StoreFactory = Callable[[], Store]
"""Builds a new, unopened store over the same data, so tests can reopen what they wrote."""


@pytest.fixture(params=["sqlite", "motor", "pymongo"])
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    made: list[Store] = []
    backend = str(request.param)
    url = request.getfixturevalue("mongo_url") if backend in MONGO_BACKENDS else ""
    factory = _factory(backend, tmp_path, url)

    def make() -> Store:
        made.append(factory())
        return made[-1]

    yield make
    for store in made:
        await store.close()
    if backend in MONGO_BACKENDS:
        await _drop_database(made)


@pytest.fixture
async def store(make_store: StoreFactory) -> AsyncIterator[Store]:
    opened = make_store()
    await opened.open()
    yield opened
    await opened.close()


def _factory(backend: str, tmp_path: Path, url: str) -> StoreFactory:
    if backend == "sqlite":
        return lambda: open_store("sqlite:///squall.db", base_dir=str(tmp_path))
    database = f"squall_test_{uuid.uuid4().hex[:12]}"
    driver = MONGO_BACKENDS[backend]
    return lambda: MongoStore.from_url(url, database=database, driver=driver)


async def _drop_database(made: list[Store]) -> None:
    if not made or not isinstance(made[0], MongoStore):
        return
    cleaner = made[0]
    await cleaner.open()
    await cleaner.client.drop_database(cleaner.database_name)
    await cleaner.close()


@pytest.fixture
async def kv(tmp_path: Path) -> AsyncIterator[KeyValueService]:
    """The datastore service over an open SQLite store, with a fresh key."""
    store = open_store("sqlite:///squall.db", base_dir=str(tmp_path))
    await store.open()
    yield KeyValueService(store, KeyRing(current=generate_key()))
    await store.close()


@pytest.fixture
async def mongo_db(mongo_url: str) -> AsyncIterator[tuple[Any, str]]:
    """(a motor client on the session's server, a fresh database name), dropped afterwards."""

    client: Any = AsyncIOMotorClient(mongo_url)
    name = f"squall_test_{uuid.uuid4().hex[:12]}"
    yield client, name
    await client.drop_database(name)
    client.close()

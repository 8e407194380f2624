"""Store fixtures: each contract test runs on SQLite, mongomock-motor and, if set up, MongoDB."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from mongomock_motor import AsyncMongoMockClient

from core.store import Store, open_store
from core.store.mongo import MongoStore

MONGO_URL_ENV = "SQUALL_TEST_MONGO_URL"

StoreFactory = Callable[[], Store]
"""Builds a new, unopened store over the same data, so tests can reopen what they wrote."""


@pytest.fixture(params=["sqlite", "mongomock", "mongodb"])
async def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    made: list[Store] = []
    factory = await _factory(str(request.param), tmp_path)

    def make() -> Store:
        made.append(factory())
        return made[-1]

    yield make
    for store in made:
        await store.close()
    if request.param == "mongodb":
        await _drop_database(made)


@pytest.fixture
async def store(make_store: StoreFactory) -> AsyncIterator[Store]:
    opened = make_store()
    await opened.open()
    yield opened
    await opened.close()


async def _factory(backend: str, tmp_path: Path) -> StoreFactory:
    if backend == "sqlite":
        return lambda: open_store("sqlite:///squall.db", base_dir=str(tmp_path))
    if backend == "mongomock":
        client: Any = AsyncMongoMockClient()
        return lambda: MongoStore(client, database="squall")
    url = os.environ.get(MONGO_URL_ENV)
    if not url:
        pytest.skip(f"{MONGO_URL_ENV} not set")
    database = f"squall_test_{uuid.uuid4().hex[:12]}"
    return lambda: MongoStore.from_url(url, database=database)


async def _drop_database(made: list[Store]) -> None:
    if not made or not isinstance(made[0], MongoStore):
        return
    cleaner = made[0]
    await cleaner.open()
    await cleaner.client.drop_database(cleaner.database_name)
    await cleaner.close()

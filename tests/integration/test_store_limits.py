"""A result the store cannot keep ends the execution ``failed`` with a marker, on every backend.

Found with a real MongoDB-protocol server: a result plus its output past 16 MiB raised
``DocumentTooLarge`` (not a PyMongoError) and ``2**70`` an ``OverflowError``; both left the
execution ``running``, later ``abandoned``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from motor.motor_asyncio import AsyncIOMotorClient

from bot.app import Engine, open_engine
from bot.settings import load_settings
from core.executions.rejected import REJECTED_KEY
from core.models import Execution, ExecutionStatus
from core.store import DocumentRejected, StoreError
from core.store.sqlite import SqliteStore
from tests.conftest import FIXTURES

S = ExecutionStatus
DRIVERS = {"motor": "motor", "pymongo": "pymongo-async"}


@pytest.fixture(params=["sqlite", "motor", "pymongo"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Engine]:
    backend = str(request.param)
    if backend == "sqlite":
        url, driver = "sqlite:///var/squall.db", "motor"
    else:
        database = f"squall_test_{uuid.uuid4().hex[:12]}"
        url, driver = request.getfixturevalue("mongo_url") + database, DRIVERS[backend]
    config = tmp_path / "squall.yaml"
    config.write_text(
        f"store: {{url: '{url}', driver: {driver}}}\n"
        f"packs: {{paths: ['{FIXTURES / 'limits'}']}}\n"
        "http: {enabled: false}\n"
        "timers: {enabled: false}\n"
        "executions: {output_limit_bytes: 10485760, shutdown_grace_seconds: 0.2}\n"
    )
    async with open_engine(load_settings(config)) as opened:
        yield opened
    if backend != "sqlite":
        client: Any = AsyncIOMotorClient(url)
        await client.drop_database(database)
        client.close()


async def run(engine: Engine, ref: str, **parameters: Any) -> Execution:
    requested = await engine.executions.request(ref, parameters)
    return await engine.executions.wait(requested.id, timeout=60)


async def test_a_result_and_output_past_16_mib_together_end_failed(engine: Engine) -> None:
    done = await run(engine, "limits.big", result_mib=9, output_mib=9)
    assert done.status is S.FAILED
    assert done.result[REJECTED_KEY] is True
    assert "could not store the result" in done.result["error"]
    stored = await engine.store.executions.get(done.id)
    assert stored is not None and stored.status is S.FAILED and stored.result == done.result


async def test_a_result_that_fits_is_kept_whole(engine: Engine) -> None:
    done = await run(engine, "limits.big", result_mib=4, output_mib=4)
    assert done.status is S.SUCCEEDED, done.result
    assert len(done.result["result"]["blob"]) == 4 * 1024 * 1024


async def test_an_integer_past_64_bits(engine: Engine) -> None:
    done = await run(engine, "limits.huge_int")
    stored = await engine.store.executions.get(done.id)
    assert stored is not None and stored.status is done.status
    if engine.store.backend == "sqlite":
        assert done.status is S.SUCCEEDED and done.result["result"] == {"count": 2**70}
    else:  # BSON has no integer past 64 bits
        assert done.status is S.FAILED and done.result[REJECTED_KEY] is True
        assert "8-byte ints" in done.result["error"]


async def test_sqlite_refuses_what_json_cannot_encode(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "x.db")
    await store.open()
    try:
        execution = Execution.request("core.noop", "noop", {"bad": {1, 2}})
        with pytest.raises(DocumentRejected, match="not JSON serializable"):
            await store.executions.insert(execution)
        assert issubclass(DocumentRejected, StoreError)
    finally:
        await store.close()

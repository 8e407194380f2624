"""``squall gc``: one pass now with the config's TTLs, on the SQLite file of the config."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from core.models import Execution, ExecutionStatus, utcnow
from core.store import ExecutionQuery, open_store
from tests.conftest import cli_json, write_config


def ended(days_ago: float) -> Execution:
    made = Execution.request("core.noop", "noop", {}, {"user": "gc"}, None)
    end = utcnow() - timedelta(days=days_ago)
    return made.with_changes(
        status=ExecutionStatus.SUCCEEDED, start_timestamp=end, end_timestamp=end
    )


async def insert(config: Path, *executions: Execution) -> None:
    store = open_store("sqlite:///var/squall.db", base_dir=str(config.parent))
    await store.open()
    for execution in executions:
        await store.executions.insert(execution)
    await store.close()


async def stored_ids(config: Path) -> set[str]:
    store = open_store("sqlite:///var/squall.db", base_dir=str(config.parent))
    await store.open()
    found = await store.executions.list(ExecutionQuery())
    await store.close()
    return {e.id for e in found}


def test_gc_deletes_what_the_ttl_allows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, "gc:\n  executions_ttl_days: 7\n")
    old, recent = ended(8), ended(6)
    asyncio.run(insert(config, old, recent))

    code, counts = cli_json(capsys, config, "gc")

    assert code == 0
    assert counts == {
        "executions": 1,
        "trigger_instances": 0,
        "rule_enforcements": 0,
        "kv_expired": 0,
        "outbox_expired": 0,
    }
    assert asyncio.run(stored_ids(config)) == {recent.id}


def test_gc_without_ttls_keeps_everything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    old = ended(4000)
    asyncio.run(insert(config, old))
    code, counts = cli_json(capsys, config, "gc")
    assert (code, counts["executions"]) == (0, 0)
    assert asyncio.run(stored_ids(config)) == {old.id}

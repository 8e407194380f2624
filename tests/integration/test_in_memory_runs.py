"""``core.noop`` (a runner that ``runs_in_memory``) goes requested → succeeded in one write;
observers still hear ``running`` and the stored log keeps it; other runners keep both writes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import Engine, open_engine
from bot.settings import load_settings
from core.models import Execution, ExecutionStatus
from tests.conftest import write_config

S = ExecutionStatus


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with open_engine(load_settings(write_config(tmp_path))) as opened:
        yield opened


class Seen:
    def __init__(self) -> None:
        self.changes: list[tuple[str, S]] = []
        self.creations: list[str] = []

    def created(self, execution: Execution) -> None:
        self.creations.append(execution.id)

    def updated(self, execution: Execution) -> None:
        self.changes.append((execution.id, execution.status))

    def output(self, execution: Execution, output_type: str, text: str) -> None:
        pass


def count_replaces(engine: Engine) -> list[tuple[str, S]]:
    """Every status CAS written to the store: (id, status expected there)."""
    writes: list[tuple[str, S]] = []
    repo = engine.store.executions
    original = repo.replace

    async def replace(execution: Execution, *, expected_status: S) -> Any:
        writes.append((execution.id, expected_status))
        return await original(execution, expected_status=expected_status)

    repo.replace = replace  # type: ignore[method-assign]
    return writes


async def test_noop_is_one_write_from_requested_to_succeeded(engine: Engine) -> None:
    seen = Seen()
    engine.executions.observers.append(seen)
    writes = count_replaces(engine)
    execution = await engine.executions.request("core.noop", {})
    done = await engine.executions.wait(execution.id, timeout=10)
    assert done.status is S.SUCCEEDED
    assert writes == [(execution.id, S.REQUESTED)]
    assert [s for i, s in seen.changes if i == execution.id] == [S.RUNNING, S.SUCCEEDED]
    assert seen.creations == [execution.id]  # once: the stream had two create events
    stored = await engine.store.executions.get(execution.id)
    assert stored is not None and stored.status is S.SUCCEEDED
    assert [c.status for c in stored.log] == [S.REQUESTED, S.RUNNING, S.SUCCEEDED]
    assert stored.owner == str(engine.executions.owner)
    assert not engine.executions.unstored


async def test_a_cancel_that_wins_first_is_kept(engine: Engine) -> None:
    """A cancel stored while the noop's end is being written: the end's CAS (on
    ``requested``) loses and the execution stays canceled."""
    service = engine.executions
    original = engine.store.executions.replace

    async def cancel_first(execution: Execution, *, expected_status: S) -> Any:
        if execution.status is S.SUCCEEDED:
            current = await engine.store.executions.get(execution.id)
            assert current is not None and current.status is S.REQUESTED
            await original(current.transition(S.CANCELED), expected_status=S.REQUESTED)
        return await original(execution, expected_status=expected_status)

    engine.store.executions.replace = cancel_first  # type: ignore[method-assign]
    execution = await service.request("core.noop", {})
    done = await service.wait(execution.id, timeout=10)
    assert done.status is S.CANCELED
    assert not service.unstored


async def test_other_runners_store_running(engine: Engine) -> None:
    writes = count_replaces(engine)
    execution = await engine.executions.request("core.local", {"cmd": "true"})
    done = await engine.executions.wait(execution.id, timeout=10)
    assert done.status is S.SUCCEEDED
    expected = [s for i, s in writes if i == execution.id]
    assert expected[:2] == [S.REQUESTED, S.RUNNING]


RULE = """name: noop
pack: memhooks
enabled: true
trigger: {type: core.st2.webhook, parameters: {url: mem}}
action: {ref: core.noop}
"""


@pytest.fixture
async def hooked(tmp_path: Path) -> AsyncIterator[Engine]:
    rules = tmp_path / "packs" / "memhooks" / "rules"
    rules.mkdir(parents=True)
    (rules.parent / "pack.yaml").write_text(
        "ref: memhooks\nname: memhooks\ndescription: t\nversion: 0.1.0\nauthor: t\n"
    )
    (rules / "noop.yaml").write_text(RULE)
    config = tmp_path / "squall.yaml"
    config.write_text(
        "store:\n  url: sqlite:///var/squall.db\n"
        f"packs:\n  paths: ['{tmp_path / 'packs'}']\n"
        "http:\n  enabled: false\n"
    )
    async with open_engine(load_settings(config)) as opened:
        yield opened


async def test_a_rule_stores_its_noop_completed_with_the_settle(hooked: Engine) -> None:
    """The rules engine runs core.noop before its settle: the settle stores it succeeded, no
    status write follows, and observers and listeners hear requested, running, succeeded."""
    created: list[S] = []
    seen = Seen()
    seen.created = lambda execution: created.append(execution.status)  # type: ignore[method-assign]
    hooked.executions.observers.append(seen)
    completed: asyncio.Queue[Execution] = asyncio.Queue()
    hooked.executions.add_completion_listener(completed.put)
    writes = count_replaces(hooked)
    body: dict[str, Any] = {"headers": {}, "headers_lower": {}, "body": {}}
    instance = await hooked.triggers.dispatch(
        "core.st2.webhook", body, trigger_parameters={"url": "mem"}
    )
    assert instance is not None
    done = await asyncio.wait_for(completed.get(), timeout=10)
    assert done.status is S.SUCCEEDED
    assert done.context["trigger_instance"]["id"] == instance.id
    assert writes == []
    assert created == [S.REQUESTED]
    assert [s for i, s in seen.changes if i == done.id] == [S.RUNNING, S.SUCCEEDED]
    stored = await hooked.store.executions.get(done.id)
    assert stored is not None and stored.status is S.SUCCEEDED
    assert [c.status for c in stored.log] == [S.REQUESTED, S.RUNNING, S.SUCCEEDED]
    assert stored.result == done.result and stored.result is not None

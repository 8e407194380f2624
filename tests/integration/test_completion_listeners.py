"""Completion listeners: each runs in its own task, and one with a filter (``wants``) costs no
task for the completions it has nothing to do with."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Engine, open_engine
from bot.settings import load_settings
from core.models import Execution
from tests.conftest import write_config


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with open_engine(load_settings(write_config(tmp_path))) as engine:
        yield engine


async def test_a_filtered_listener_is_called_only_for_what_it_wants(engine: Engine) -> None:
    called: dict[str, list[str]] = {"all": [], "odd": [], "broken": []}

    def recorder(name: str):  # type: ignore[no-untyped-def]
        async def on_completed(execution: Execution) -> None:
            called[name].append(str(execution.context["n"]))

        return on_completed

    def broken_filter(execution: Execution) -> bool:
        raise RuntimeError("a bug in a filter")

    service = engine.executions
    service.add_completion_listener(recorder("all"))
    service.add_completion_listener(recorder("odd"), wants=lambda e: int(e.context["n"]) % 2 == 1)
    service.add_completion_listener(recorder("broken"), wants=broken_filter)
    for n in range(4):
        requested = await service.request("core.noop", {}, context={"n": n})
        await service.wait(requested.id, timeout=10)
    async with asyncio.timeout(10):
        while len(called["all"]) < 4 or len(called["broken"]) < 4:
            await asyncio.sleep(0.01)
    assert sorted(called["all"]) == ["0", "1", "2", "3"]
    assert sorted(called["odd"]) == ["1", "3"]
    assert sorted(called["broken"]) == ["0", "1", "2", "3"]  # a failing filter lets it through

"""A datastore secret decrypted into a parameter that is not ``secret: true`` is still masked
in what users see, while the runner gets the real value."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Engine, open_engine
from bot.settings import load_settings
from core.kv.decrypted import DECRYPTED_PARAMETERS, holding, mark_decrypted
from core.models import MASK, ExecutionStatus
from tests.conftest import write_config


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with open_engine(load_settings(write_config(tmp_path))) as opened:
        yield opened


async def test_decrypted_value_is_masked_but_reaches_the_runner(engine: Engine) -> None:
    await engine.kv.set("password", "hunter2", secret=True)
    await engine.kv.set("host", "db1")
    requested = await engine.executions.request(
        "core.local",
        {"cmd": "echo {{ st2kv.system.host }} {{ st2kv.system.password | decrypt_kv }}"},
    )
    done = await engine.executions.wait(requested.id, timeout=20)
    assert done.status is ExecutionStatus.SUCCEEDED
    assert done.result["stdout"].strip() == "db1 hunter2"  # the runner had the plaintext
    assert done.context[DECRYPTED_PARAMETERS] == ["cmd"]
    api = engine.executions.to_api(done)
    assert api["parameters"]["cmd"] == MASK
    assert "hunter2" not in str(api["parameters"])


async def test_plain_kv_values_stay_visible(engine: Engine) -> None:
    await engine.kv.set("host", "db1")
    requested = await engine.executions.request(
        "core.local", {"cmd": "echo {{ st2kv.system.host }}"}
    )
    done = await engine.executions.wait(requested.id, timeout=20)
    assert DECRYPTED_PARAMETERS not in done.context
    assert engine.executions.to_api(done)["parameters"]["cmd"] == "echo db1"


def test_holding_finds_nested_values() -> None:
    params = {"a": "x-s3cret-y", "b": {"k": ["s3cret"]}, "c": "plain", "d": 5}
    assert holding(params, ["s3cret", ""]) == ["a", "b"]
    assert holding(params, []) == []


def test_mark_decrypted_merges_names() -> None:
    context = {"user": "u", DECRYPTED_PARAMETERS: ["z"]}
    assert mark_decrypted(context, {"a": "pw"}, ["pw"])[DECRYPTED_PARAMETERS] == ["a", "z"]
    assert mark_decrypted({"user": "u"}, {"a": "x"}, ["pw"]) == {"user": "u"}

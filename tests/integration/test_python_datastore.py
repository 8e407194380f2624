"""``action_service`` datastore calls from real python actions, answered by the parent's
KeyValueService over a real SQLite store (fork server and fresh-interpreter paths)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.kv import SYSTEM, USER
from core.kv.service import KeyValueService
from core.models import Action, ExecutionStatus
from core.runners.base import RunContext, RunnerResult
from core.runners.python import PythonScriptRunner

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_PACK = ROOT / "tests" / "fixtures" / "python_actions" / "pyfix"
WAIT = 30.0


@pytest.fixture(params=["fork_server", "subprocess"])
async def runner(
    request: pytest.FixtureRequest, kv: KeyValueService
) -> AsyncIterator[PythonScriptRunner]:
    made = PythonScriptRunner(use_fork_server=request.param == "fork_server", datastore=kv)
    yield made
    await made.close()


def _ctx(entry_point: str, user: str = "slack:T1:U1") -> RunContext:
    action = Action(
        pack="pyfix",
        name=entry_point.removesuffix(".py"),
        runner_type="python-script",
        pack_path=FIXTURE_PACK,
        entry_point=entry_point,
    )
    return RunContext(
        execution_id="exec-kv",
        action=action,
        runner_parameters={},
        action_parameters={},
        context={"user": user},
    )


async def _run(runner: PythonScriptRunner, ctx: RunContext) -> RunnerResult:
    async with asyncio.timeout(WAIT):
        return await runner.run(ctx)


async def test_action_sets_reads_lists_and_deletes(
    runner: PythonScriptRunner, kv: KeyValueService
) -> None:
    result = await _run(runner, _ctx("kv_roundtrip.py"))
    assert result.status is ExecutionStatus.SUCCEEDED, result.result["stderr"]
    seen = result.result["result"]
    assert seen.pop("bad_ttl").endswith("datastore TTL must be positive, not -1")
    assert seen == {
        "set_local": True,
        "set_global": True,
        "set_secret": True,
        "set_user": True,
        "get_local": "1",
        "get_global": "g",
        "get_secret_sealed": True,
        "get_secret": "hunter2",
        "get_user": "u",
        "get_missing": None,
        "list_local": ["pyfix.KvRoundTrip:counter", "pyfix.KvRoundTrip:pw"],
        "list_page": ["pyfix.KvRoundTrip:pw"],
        "list_prefix": ["g"],
        "delete": True,
        "delete_again": False,
    }
    # The same store, seen from Squall: local names, encryption, TTL and the user scope.
    secret = await kv.store.kv.get(SYSTEM, "pyfix.KvRoundTrip:pw")
    assert secret is not None and secret.encrypted and "hunter2" not in secret.value
    shared = await kv.get("shared")
    assert shared is not None and shared.expire_timestamp is not None
    assert await kv.get("pyfix.KvRoundTrip:counter") is None
    mine = await kv.get("mine", scope=USER, user="slack:T1:U1")
    assert mine is not None and mine.value == "u"


async def test_the_action_holds_only_its_datastore_socket(runner: PythonScriptRunner) -> None:
    result = await _run(runner, _ctx("open_fds.py"))
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.result["result"]["fds"] == [3]


async def test_a_value_squall_stored_is_read_by_the_action(
    runner: PythonScriptRunner, kv: KeyValueService
) -> None:
    await kv.set("counter", "41")
    result = await _run(runner, _ctx("uses_datastore.py"))
    assert result.status is ExecutionStatus.SUCCEEDED, result.result["stderr"]
    assert result.result["result"] is None  # local=True: pyfix.UsesDatastore:counter
    await kv.set("pyfix.UsesDatastore:counter", "42")
    result = await _run(runner, _ctx("uses_datastore.py"))
    assert result.result["result"] == "42"

"""Python actions loaded as StackStorm loads them, and the st2 modules packs import.

Real packs derive from a pack-local base that is not st2's ``Action`` (Exchange ``jira``),
import from the pack root ``lib/`` (``contrib/examples``' ``isprime``) and from
``st2common.exceptions`` / ``util`` (Exchange ``csv``, ``github``, st2's ``linux``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from core.models import Action, ExecutionStatus
from core.runners.base import RunContext, RunnerResult
from core.runners.pack_python import PackPythonSettings
from core.runners.python import PythonScriptRunner

S = ExecutionStatus
PACK = Path(__file__).resolve().parents[1] / "fixtures" / "st2packs" / "st2like"
WAIT = 30.0


def _ctx(entry_point: str, parameters: Mapping[str, Any] | None = None, **kw: Any) -> RunContext:
    action = Action(
        pack="st2like",
        name=entry_point.removesuffix(".py"),
        runner_type="python-script",
        pack_path=PACK,
        entry_point=entry_point,
    )
    return RunContext(
        execution_id="exec-1",
        action=action,
        runner_parameters={},
        action_parameters=parameters or {},
        **kw,
    )


async def _run(runner: PythonScriptRunner, ctx: RunContext) -> RunnerResult:
    async with asyncio.timeout(WAIT):
        return await runner.run(ctx)


@pytest.fixture(params=["fork_server", "subprocess"])
async def runner(request: pytest.FixtureRequest) -> AsyncIterator[PythonScriptRunner]:
    made = PythonScriptRunner(use_fork_server=request.param == "fork_server")
    yield made
    await made.close()


async def test_class_deriving_from_a_pack_local_base_is_the_action(
    runner: PythonScriptRunner,
) -> None:
    ctx = _ctx("local_base.py", {"key": "K-1"}, pack_config={"url": "https://jira.invalid"})
    result = await _run(runner, ctx)
    assert result.status is S.SUCCEEDED, result.result["stderr"]
    assert result.result["result"] == {"key": "K-1", "server": "https://jira.invalid"}


async def test_class_with_run_and_no_base_is_the_action(runner: PythonScriptRunner) -> None:
    result = await _run(runner, _ctx("plain_class.py", {"word": "hi"}))
    assert result.status is S.SUCCEEDED, result.result["stderr"]
    assert result.result["result"] == "HI"


async def test_helpers_and_bases_in_the_module_are_not_actions(runner: PythonScriptRunner) -> None:
    result = await _run(runner, _ctx("helper_and_base.py", {"value": "x"}))
    assert result.status is S.SUCCEEDED, result.result["stderr"]
    assert result.result["result"] == "<X>"


async def test_two_action_classes_are_a_clear_error(runner: PythonScriptRunner) -> None:
    result = await _run(runner, _ctx("two_classes.py"))
    assert result.status is S.FAILED
    assert (
        'two_classes.py" has more than one action class: First, Second' in (result.result["stderr"])
    )


async def test_no_class_implementing_run_is_a_clear_error(runner: PythonScriptRunner) -> None:
    result = await _run(runner, _ctx("abstract_only.py"))
    assert result.status is S.FAILED
    stderr = result.result["stderr"]
    assert 'abstract_only.py" has no action class' in stderr
    assert "no class in it implements run()" in stderr


async def test_pack_root_lib_needs_enable_common_libs(runner: PythonScriptRunner) -> None:
    result = await _run(runner, _ctx("uses_common_lib.py", {"value": 7}))
    assert result.status is S.FAILED
    assert "ModuleNotFoundError: No module named 'primes'" in result.result["stderr"]


async def test_pack_root_lib_is_importable_with_enable_common_libs() -> None:
    made = PythonScriptRunner(packs=PackPythonSettings(enable_common_libs=True))
    try:
        result = await _run(made, _ctx("uses_common_lib.py", {"value": 7}))
        assert result.status is S.SUCCEEDED, result.result["stderr"]
        assert result.result["result"] is True
    finally:
        await made.close()


async def test_st2common_modules_packs_import(runner: PythonScriptRunner) -> None:
    result = await _run(runner, _ctx("uses_shim.py", {"text": "it's"}))
    assert result.status is S.SUCCEEDED, result.result["stderr"]
    assert result.result["result"] == {
        "quoted": "'it'\"'\"'s'",
        "iso": "2020-01-02T03:04:05.000000Z",
        "parsed": "2020-01-02T03:04:05+00:00",
        "rendered": {"a": "it's!"},
        "logger": "uses_shim",
        "not_found_is_db_error": True,
    }


async def test_st2_exception_raised_by_an_action_fails_it_with_its_message(
    runner: PythonScriptRunner,
) -> None:
    result = await _run(runner, _ctx("uses_shim.py", {"text": "x", "fail": True}))
    assert result.status is S.FAILED
    assert "InvalidActionParameterException: text 'x' is not allowed" in result.result["stderr"]

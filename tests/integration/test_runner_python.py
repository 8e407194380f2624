"""The python-script runner with real interpreters: the fork server and the fallback path.

Most tests run twice through the ``runner`` fixture, once per way of starting the action
process, since both must honour the same contract (st2-format §2.5).
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from core.models import Action, ExecutionStatus
from core.runners.base import RunContext, RunnerResult
from core.runners.python import PythonScriptRunner
from core.runners.python_host import client
from core.runners.python_host.capture import CappedBuffer, ResultSplitter
from core.runners.python_host.protocol import DELIMITER, encode_result
from tests.conftest import poll_until, wait_dead

S = ExecutionStatus
ROOT = Path(__file__).resolve().parents[2]
FIXTURE_PACK = ROOT / "tests" / "fixtures" / "python_actions" / "pyfix"
CORE_PACK = ROOT / "packs" / "core"
WAIT = 10.0  # upper bound for anything a test waits on; never reached when things work


# --- helpers -------------------------------------------------------------------------------


def _ctx(
    entry_point: str,
    parameters: Mapping[str, Any] | None = None,
    *,
    runner_parameters: Mapping[str, Any] | None = None,
    pack: str = "pyfix",
    pack_path: Path = FIXTURE_PACK,
    **kwargs: Any,
) -> RunContext:
    action = Action(
        pack=pack,
        name=entry_point.removesuffix(".py"),
        runner_type="python-script",
        pack_path=pack_path,
        entry_point=entry_point,
    )
    return RunContext(
        execution_id=kwargs.pop("execution_id", "exec-1"),
        action=action,
        runner_parameters=runner_parameters or {},
        action_parameters=parameters or {},
        **kwargs,
    )


class _Started:
    """An ``on_process_start`` callback that remembers the pid and can be awaited."""

    def __init__(self) -> None:
        self.pids: list[int] = []
        self.event = asyncio.Event()

    async def __call__(self, pid: int) -> None:
        self.pids.append(pid)
        self.event.set()

    async def wait(self) -> int:
        async with asyncio.timeout(WAIT):
            await self.event.wait()
        return self.pids[-1]


async def _run(runner: PythonScriptRunner, ctx: RunContext) -> RunnerResult:
    async with asyncio.timeout(WAIT * 3):
        return await runner.run(ctx)


@pytest.fixture(params=["fork_server", "subprocess"])
async def runner(request: pytest.FixtureRequest) -> AsyncIterator[PythonScriptRunner]:
    made = PythonScriptRunner(use_fork_server=request.param == "fork_server")
    yield made
    await made.close()


@pytest.fixture
async def fork_runner() -> AsyncIterator[PythonScriptRunner]:
    made = PythonScriptRunner()
    yield made
    await made.close()


# --- return semantics (the §2.5 table) ------------------------------------------------------


async def test_true_status_succeeds_with_the_result(runner: PythonScriptRunner) -> None:
    value = {"a": [1, 2], "b": None, "c": "x"}
    result = await _run(runner, _ctx("returns_true.py", {"value": value}))
    assert result.status is S.SUCCEEDED
    assert result.result == {"result": value, "stdout": "", "stderr": "", "exit_code": 0}


async def test_false_status_fails_with_the_result(runner: PythonScriptRunner) -> None:
    result = await _run(runner, _ctx("returns_false.py"))
    assert result.status is S.FAILED
    assert result.result == {"result": {"e": 1}, "stdout": "", "stderr": "", "exit_code": 0}


@pytest.mark.parametrize(
    ("parameters", "expected"),
    [
        ({"value": [1, 2]}, [1, 2]),
        ({"value": "text"}, "text"),
        ({"value": None}, None),
        ({"value": 7, "tuple_of": 3}, [7, 7, 7]),  # not a (status, result) pair
        ({"value": 7, "tuple_of": 1}, [7]),
        ({"value": None, "tuple_of": 2}, None),  # (None, x): no status, result x
    ],
)
async def test_any_other_value_succeeds_as_the_result(
    runner: PythonScriptRunner, parameters: dict[str, Any], expected: Any
) -> None:
    result = await _run(runner, _ctx("plain_value.py", parameters))
    assert result.status is S.SUCCEEDED
    assert result.result["result"] == expected
    assert result.result["exit_code"] == 0


async def test_exception_fails_with_traceback_and_none_text(runner: PythonScriptRunner) -> None:
    result = await _run(runner, _ctx("raises.py"))
    assert result.status is S.FAILED
    assert result.result["result"] == "None"  # st2's quirk: the text None
    assert result.result["exit_code"] == 1
    stderr = result.result["stderr"]
    assert stderr.startswith("Traceback (most recent call last):")
    assert "raises.py" in stderr
    assert stderr.rstrip().endswith("ValueError: boom from the action")


async def test_non_bool_status_exits_220(runner: PythonScriptRunner) -> None:
    result = await _run(runner, _ctx("bad_status.py"))
    assert result.status is S.FAILED
    assert result.result["exit_code"] == 220
    assert result.result["result"] == "None"
    message = "Status returned from the action run() method must either be True or False"
    assert result.result["error"] == f"{message}, got: yes"
    assert message in result.result["stderr"]


@pytest.mark.parametrize("with_status", [True, False])
async def test_non_serializable_result_becomes_its_str(
    runner: PythonScriptRunner, with_status: bool
) -> None:
    result = await _run(runner, _ctx("non_serializable.py", {"with_status": with_status}))
    assert result.status is S.SUCCEEDED
    if with_status:
        assert result.result["result"] == "<opaque thing>"
    else:
        assert isinstance(result.result["result"], str)
        assert result.result["result"].startswith("{'thing': <")


async def test_sys_exit_code_is_the_exit_code(runner: PythonScriptRunner) -> None:
    result = await _run(runner, _ctx("exits.py", {"code": 3}))
    assert result.status is S.FAILED
    assert result.result == {
        "result": "None",
        "stdout": "about to exit\n",
        "stderr": "",
        "exit_code": 3,
    }


async def test_result_containing_the_delimiter_survives(runner: PythonScriptRunner) -> None:
    value = f"a{DELIMITER}b %% c"
    result = await _run(runner, _ctx("returns_true.py", {"value": value}))
    assert result.status is S.SUCCEEDED
    assert result.result["result"] == value
    assert result.result["stdout"] == ""


# --- output -----------------------------------------------------------------------------------


async def test_stdout_and_stderr_are_captured_without_the_result_block(
    runner: PythonScriptRunner,
) -> None:
    result = await _run(runner, _ctx("prints.py", {"lines": 2}))
    assert result.status is S.SUCCEEDED
    assert result.result["result"] == "done"
    assert result.result["stdout"] == "out line 0\nout line 1\n"
    assert DELIMITER not in result.result["stdout"]
    stderr = result.result["stderr"]
    assert stderr.startswith("err line\n")
    assert "actions.python.Prints: INFO     logged through self.logger" in stderr


@pytest.mark.parametrize(("log_level", "logged"), [("DEBUG", True), ("ERROR", False)])
async def test_log_level_filters_the_action_logger(
    runner: PythonScriptRunner, log_level: str, logged: bool
) -> None:
    ctx = _ctx("prints.py", runner_parameters={"log_level": log_level})
    result = await _run(runner, ctx)
    assert result.status is S.SUCCEEDED
    assert ("logged through self.logger" in result.result["stderr"]) is logged


async def test_output_over_the_limit_is_capped_and_the_result_still_found(
    runner: PythonScriptRunner,
) -> None:
    ctx = _ctx("prints.py", {"lines": 0, "size": 300_000}, output_limit_bytes=1000)
    result = await _run(runner, ctx)
    assert result.status is S.SUCCEEDED
    assert result.result["result"] == "done"
    stdout = result.result["stdout"]
    assert stdout.startswith("x" * 1000)
    assert "[output truncated: 299000 bytes over the 1000-byte limit]" in stdout


async def test_result_over_its_limit_fails_clearly() -> None:
    small = PythonScriptRunner(max_result_bytes=100)
    try:
        result = await _run(small, _ctx("returns_true.py", {"value": "y" * 500}))
    finally:
        await small.close()
    assert result.status is S.FAILED
    assert result.result["result"] == "None"
    assert "larger than the 100-byte limit" in result.result["error"]


# --- pack context: config, libs, environment --------------------------------------------------


async def test_action_reads_the_pack_config(runner: PythonScriptRunner) -> None:
    ctx = _ctx("uses_config.py", {"key": "greeting"}, pack_config={"greeting": "hi"})
    result = await _run(runner, ctx)
    assert result.status is S.SUCCEEDED
    assert result.result["result"] == "hi"


async def test_missing_config_key_says_which(runner: PythonScriptRunner) -> None:
    result = await _run(runner, _ctx("uses_config.py", {"key": "nope"}, pack_config={}))
    assert result.status is S.FAILED
    assert 'Config for pack "pyfix" is missing key "nope"' in result.result["stderr"]


async def test_action_imports_from_actions_lib(runner: PythonScriptRunner) -> None:
    result = await _run(runner, _ctx("uses_lib.py", {"name": "ann"}))
    assert result.status is S.SUCCEEDED, result.result["stderr"]
    assert result.result["result"] == {"direct": "hello ann", "inherited": "lib: hello ann"}


async def test_environment_merges_process_runner_and_st2_variables(
    runner: PythonScriptRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SQUALL_TEST_INHERITED", "from squall")
    names = [
        "SQUALL_TEST_INHERITED",
        "FROM_RUNNER_ENV",
        "ST2_ACTION_PACK_NAME",
        "ST2_ACTION_EXECUTION_ID",
        "PYTHONPATH",
    ]
    ctx = _ctx(
        "env_reader.py",
        {"names": names},
        runner_parameters={"env": {"FROM_RUNNER_ENV": 5, "PYTHONPATH": "/ignored"}},
        env={"ST2_ACTION_PACK_NAME": "pyfix", "ST2_ACTION_EXECUTION_ID": "exec-42"},
    )
    result = await _run(runner, ctx)
    seen = result.result["result"]
    assert seen["SQUALL_TEST_INHERITED"] == "from squall"
    assert seen["FROM_RUNNER_ENV"] == "5"
    assert seen["ST2_ACTION_PACK_NAME"] == "pyfix"
    assert seen["ST2_ACTION_EXECUTION_ID"] == "exec-42"
    assert "/ignored" not in seen["PYTHONPATH"]
    assert str(FIXTURE_PACK / "actions" / "lib") in seen["PYTHONPATH"].split(os.pathsep)


async def test_squall_packages_are_not_importable_by_actions(runner: PythonScriptRunner) -> None:
    result = await _run(runner, _ctx("find_spec.py", {"names": ["core", "bot", "adapters"]}))
    assert result.status is S.SUCCEEDED, result.result["stderr"]
    assert result.result["result"] == {"core": None, "bot": None, "adapters": None}


async def test_old_style_constructor_gets_action_service_assigned(
    runner: PythonScriptRunner,
) -> None:
    result = await _run(runner, _ctx("old_style_init.py"))
    assert result.status is S.SUCCEEDED
    assert result.result["result"] == "ActionService"


async def test_sensor_base_classes_are_importable(runner: PythonScriptRunner) -> None:
    result = await _run(runner, _ctx("sensor_shape.py"))
    assert result.status is S.SUCCEEDED, result.result["stderr"]
    assert result.result["result"] == {"interval": 7, "config": {"a": 1}, "events": ["polled"]}


async def test_without_a_datastore_calls_are_refused(runner: PythonScriptRunner) -> None:
    result = await _run(runner, _ctx("uses_datastore.py"))
    assert result.status is S.FAILED
    expected = "RuntimeError: the datastore is not available to this action process"
    assert expected in result.result["stderr"]


async def test_file_without_action_class_fails(runner: PythonScriptRunner) -> None:
    result = await _run(runner, _ctx("no_action_class.py"))
    assert result.status is S.FAILED
    assert "has no action class" in result.result["stderr"]


async def test_missing_entry_point_file_fails(runner: PythonScriptRunner) -> None:
    result = await _run(runner, _ctx("does_not_exist.py"))
    assert result.status is S.FAILED
    assert 'Failed to load action class from file "' in result.result["stderr"]


async def test_action_without_entry_point_fails_before_starting(
    runner: PythonScriptRunner,
) -> None:
    result = await _run(runner, _ctx(""))
    assert result.status is S.FAILED
    assert result.result["error"] == 'Action "pyfix." is missing entry_point attribute'


# --- process handling ---------------------------------------------------------------------------


async def test_child_leads_its_own_group_and_holds_no_extra_fds(
    runner: PythonScriptRunner,
) -> None:
    started = _Started()
    result = await _run(runner, _ctx("open_fds.py", on_process_start=started))
    assert result.status is S.SUCCEEDED
    seen = result.result["result"]
    assert started.pids == [seen["pid"]]
    assert seen["pgid"] == seen["sid"] == seen["pid"]
    assert seen["fds"] == []  # no server socket, no other run's pipes


async def test_a_run_never_holds_another_runs_pipes(runner: PythonScriptRunner) -> None:
    started = _Started()
    sleeper = _ctx("sleeps.py", on_process_start=started)
    task = asyncio.create_task(_run(runner, sleeper))
    await started.wait()
    result = await _run(runner, _ctx("open_fds.py"))
    sleeper.cancel.set()
    assert (await task).status is S.CANCELED
    assert result.result["result"]["fds"] == []


async def test_timeout_kills_the_action_and_its_children(runner: PythonScriptRunner) -> None:
    started = _Started()
    ctx = _ctx(
        "sleeps.py",
        {"spawn_child": True},
        runner_parameters={"timeout": 0.5},
        on_process_start=started,
    )
    result = await _run(runner, ctx)
    assert result.status is S.TIMEOUT
    assert result.result["error"] == "Action failed to complete in 0.5 seconds"
    assert result.result["exit_code"] == -9
    assert result.result["result"] == "None"
    assert "sleeping\n" in result.result["stdout"]
    assert result.result["stderr"] == "sleeping on stderr\n"
    grandchild = int(result.result["stdout"].split()[1])
    await wait_dead(started.pids[0], WAIT)
    await wait_dead(grandchild, WAIT)


async def test_cancel_kills_the_action_and_its_children(
    runner: PythonScriptRunner, tmp_path: Path
) -> None:
    pid_file = tmp_path / "grandchild.pid"
    started = _Started()
    ctx = _ctx(
        "sleeps.py",
        {"spawn_child": True, "pid_file": str(pid_file)},
        on_process_start=started,
    )
    task = asyncio.create_task(_run(runner, ctx))
    await poll_until(pid_file.exists, WAIT)
    ctx.cancel.set()
    result = await task
    assert result.status is S.CANCELED
    assert "error" not in result.result
    await wait_dead(started.pids[0], WAIT)
    await wait_dead(int(pid_file.read_text()), WAIT)


async def test_cancel_before_start_runs_nothing(runner: PythonScriptRunner) -> None:
    started = _Started()
    ctx = _ctx("returns_true.py", {"value": 1}, on_process_start=started)
    ctx.cancel.set()
    result = await _run(runner, ctx)
    assert result.status is S.CANCELED
    assert started.pids == []


async def test_cancelling_the_run_task_kills_the_action(runner: PythonScriptRunner) -> None:
    started = _Started()
    task = asyncio.create_task(runner.run(_ctx("sleeps.py", on_process_start=started)))
    pid = await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_dead(pid, WAIT)


async def test_twenty_concurrent_executions_each_get_their_own_result(
    runner: PythonScriptRunner,
) -> None:
    values = [{"n": i, "id": uuid.uuid4().hex} for i in range(20)]
    ctxs = [_ctx("returns_true.py", {"value": v}, execution_id=f"e{v['n']}") for v in values]
    results = await asyncio.gather(*(_run(runner, ctx) for ctx in ctxs))
    assert [r.status for r in results] == [S.SUCCEEDED] * 20
    assert [r.result["result"] for r in results] == values


# --- the fork server ------------------------------------------------------------------------------


async def test_fork_server_is_reused_across_runs(fork_runner: PythonScriptRunner) -> None:
    first = await _run(fork_runner, _ctx("open_fds.py"))
    server = fork_runner.fork_server_pid
    second = await _run(fork_runner, _ctx("open_fds.py"))
    assert server is not None
    assert fork_runner.fork_server_pid == server
    assert first.result["result"]["pid"] != second.result["result"]["pid"]


async def test_crashing_action_does_not_take_down_the_server(
    fork_runner: PythonScriptRunner,
) -> None:
    await _run(fork_runner, _ctx("returns_true.py", {"value": 1}))
    server = fork_runner.fork_server_pid
    crashed = await _run(fork_runner, _ctx("crashes.py"))
    assert crashed.status is S.FAILED
    assert crashed.result["exit_code"] == -signal.SIGSEGV
    after = await _run(fork_runner, _ctx("returns_true.py", {"value": 2}))
    assert after.status is S.SUCCEEDED
    assert fork_runner.fork_server_pid == server


async def test_killed_fork_server_is_restarted(fork_runner: PythonScriptRunner) -> None:
    assert (await _run(fork_runner, _ctx("returns_true.py", {"value": 1}))).status is S.SUCCEEDED
    old = fork_runner.fork_server_pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    await poll_until(lambda: fork_runner.fork_server_pid is None, WAIT)
    result = await _run(fork_runner, _ctx("returns_true.py", {"value": 2}))
    assert result.status is S.SUCCEEDED
    assert result.result["result"] == 2
    new = fork_runner.fork_server_pid
    assert new is not None and new != old
    await wait_dead(old, WAIT)


async def test_server_death_mid_run_fails_the_run_and_kills_the_action(
    fork_runner: PythonScriptRunner,
) -> None:
    started = _Started()
    task = asyncio.create_task(_run(fork_runner, _ctx("sleeps.py", on_process_start=started)))
    pid = await started.wait()
    server = fork_runner.fork_server_pid
    assert server is not None
    os.kill(server, signal.SIGKILL)
    result = await task
    assert result.status is S.FAILED
    assert "Python host process died" in result.result["error"]
    await wait_dead(pid, WAIT)


async def test_falls_back_to_a_subprocess_when_the_server_cannot_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def no_seqpacket(self: client.ForkServer) -> None:
        raise OSError("SOCK_SEQPACKET is not supported here")

    monkeypatch.setattr(client.ForkServer, "_spawn", no_seqpacket)
    made = PythonScriptRunner()
    try:
        result = await _run(made, _ctx("open_fds.py"))
        assert made.fork_server_pid is None
    finally:
        await made.close()
    assert result.status is S.SUCCEEDED
    assert result.result["result"]["fds"] == []


async def test_close_stops_the_fork_server() -> None:
    made = PythonScriptRunner()
    await _run(made, _ctx("returns_true.py", {"value": 1}))
    server = made.fork_server_pid
    assert server is not None
    await made.close()
    assert made.fork_server_pid is None
    await wait_dead(server, WAIT)


# --- the bundled core pack ---------------------------------------------------------------------


@pytest.mark.parametrize("random", [False, True])
async def test_core_pause_sleeps_and_returns_the_delay(
    runner: PythonScriptRunner, random: bool
) -> None:
    ctx = _ctx("pause.py", {"max_pause": 0, "random": random}, pack="core", pack_path=CORE_PACK)
    result = await _run(runner, ctx)
    assert result.status is S.SUCCEEDED, result.result["stderr"]
    assert result.result["result"] == 0


@pytest.mark.parametrize(("uuid_type", "version"), [("uuid4", 4), ("uuid1", 1)])
async def test_core_uuid_returns_a_uuid_string(
    runner: PythonScriptRunner, uuid_type: str, version: int
) -> None:
    ctx = _ctx("generate_uuid.py", {"uuid_type": uuid_type}, pack="core", pack_path=CORE_PACK)
    result = await _run(runner, ctx)
    assert result.status is S.SUCCEEDED, result.result["stderr"]
    assert uuid.UUID(result.result["result"]).version == version


async def test_core_uuid_rejects_an_unknown_type(runner: PythonScriptRunner) -> None:
    ctx = _ctx("generate_uuid.py", {"uuid_type": "uuid9"}, pack="core", pack_path=CORE_PACK)
    result = await _run(runner, ctx)
    assert result.status is S.FAILED
    assert "Invalid UUID type specified: uuid9" in result.result["stderr"]


# --- the stdout splitter, fed in awkward pieces -----------------------------------------------


@pytest.mark.parametrize("piece", [1, 7, 33, 1 << 16])
def test_splitter_finds_the_result_across_any_read_boundaries(piece: int) -> None:
    stream = b"before\n" + encode_result({"k": "v%"}, True) + b"after"
    splitter = ResultSplitter(CappedBuffer(1000), result_limit=1000)
    for i in range(0, len(stream), piece):
        splitter.feed(stream[i : i + piece])
    splitter.close()
    assert bytes(splitter.output.data) == b"before\nafter"
    assert splitter.payload is not None
    assert splitter.payload.strip() == b'{"result": {"k": "v\\u0025"}, "status": true}'


def test_splitter_drops_an_unterminated_result_block() -> None:
    splitter = ResultSplitter(CappedBuffer(1000), result_limit=1000)
    splitter.feed(b"out" + DELIMITER.encode() + b'{"result": 1')
    splitter.close()
    assert bytes(splitter.output.data) == b"out"
    assert splitter.payload is None

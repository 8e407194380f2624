"""Subprocess plumbing and the local shell runners, with real bash processes."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import subprocess
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from core.executions.owner import kill_leftover_group
from core.models import Action, ExecutionStatus
from core.runners.base import RunContext, RunnerResult
from core.runners.noop import NoopRunner
from core.runners.process import TIMEOUT_RETURN_CODE, ProcessOutcome, run_process
from core.runners.shell import (
    SUDO_PASSWORD_UNSUPPORTED,
    LocalShellCmdRunner,
    LocalShellScriptRunner,
)
from tests.conftest import poll_until, process_alive, wait_dead

S = ExecutionStatus
SCRIPTS = Path(__file__).parent.parent / "fixtures" / "scripts"
WAIT = 10.0  # upper bound for anything a test waits on; never reached when things work


# --- helpers -------------------------------------------------------------------------------


async def _wait_file(path: Path) -> str:
    """Contents of ``path`` once a complete line has been written to it."""
    await poll_until(lambda: path.exists() and path.read_text().endswith("\n"), WAIT)
    return path.read_text()


def _pack(tmp_path: Path, *scripts: str) -> Path:
    pack = tmp_path / "pack"
    (pack / "actions").mkdir(parents=True, exist_ok=True)
    for name in scripts:
        target = pack / "actions" / name
        if not target.exists():  # keep a mode a test has set
            shutil.copy(SCRIPTS / name, target)
    return pack


def _ctx(
    tmp_path: Path,
    runner_parameters: Mapping[str, Any],
    *,
    runner_type: str = "local-shell-cmd",
    entry_point: str = "",
    parameters: Mapping[str, Any] | None = None,
    action_parameters: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> RunContext:
    action = Action(
        pack="tests",
        name="act",
        runner_type=runner_type,
        pack_path=tmp_path / "pack",
        entry_point=entry_point,
        parameters=parameters or {},
    )
    return RunContext(
        execution_id="ex1",
        action=action,
        runner_parameters={"timeout": 60, **runner_parameters},
        action_parameters=action_parameters or {},
        **kwargs,
    )


async def _cmd(tmp_path: Path, cmd: str, **params: Any) -> RunnerResult:
    return await LocalShellCmdRunner().run(_ctx(tmp_path, {"cmd": cmd, **params}))


def _args(stdout: Any) -> list[str]:
    """Arguments printed by print_args.sh (NUL-terminated)."""
    assert isinstance(stdout, str)
    return stdout.split("\0")[:-1]


async def _process(
    argv: list[str],
    *,
    timeout: float | None = None,
    cancel: asyncio.Event | None = None,
    limit: int = 1 << 20,
    on_start: Callable[[int], Awaitable[None]] | None = None,
) -> ProcessOutcome:
    return await run_process(
        argv,
        cwd=None,
        env=dict(os.environ),
        timeout=timeout,
        cancel=cancel or asyncio.Event(),
        output_limit=limit,
        on_start=on_start,
    )


# --- run_process ---------------------------------------------------------------------------


async def test_process_output_and_exit_code() -> None:
    outcome = await _process(["bash", "-c", "echo out; echo err >&2; exit 3"])
    assert outcome == ProcessOutcome("out\n", "err\n", 3, timed_out=False, canceled=False)


async def test_process_reports_its_own_group() -> None:
    seen: list[tuple[int, int]] = []
    cancel = asyncio.Event()

    async def on_start(pid: int) -> None:
        seen.append((pid, os.getpgid(pid)))
        cancel.set()

    outcome = await _process(["sleep", "300"], cancel=cancel, on_start=on_start)
    assert outcome.canceled
    assert len(seen) == 1
    pid, pgid = seen[0]
    assert pgid == pid != os.getpgid(0)


async def test_process_caps_output_but_drains_the_rest() -> None:
    # 300 kB on each pipe is far more than a pipe buffer: the child would block if we stopped.
    script = "head -c 300000 /dev/zero | tr '\\0' a; head -c 300000 /dev/zero | tr '\\0' b >&2"
    outcome = await _process(["bash", "-c", script], limit=1000)
    assert outcome.return_code == 0
    assert outcome.stdout.startswith("a" * 1000 + "\n...[output truncated: 299000 bytes")
    assert outcome.stderr.startswith("b" * 1000 + "\n...[output truncated: 299000 bytes")


async def test_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    script = f"echo partial; sleep 300 & echo $! > {pidfile}; wait"
    pids: list[int] = []

    async def on_start(pid: int) -> None:
        # The timeout only starts once on_start returns, so it cannot fire before this.
        pids.append(int(await _wait_file(pidfile)))

    outcome = await _process(["bash", "-c", script], timeout=0.2, on_start=on_start)
    assert outcome.timed_out and not outcome.canceled
    assert outcome.return_code == TIMEOUT_RETURN_CODE
    assert outcome.stdout == "partial\n"  # output up to the kill is kept
    await wait_dead(pids[0], WAIT)


async def test_timeout_kills_a_grandchild_that_left_the_group_with_setsid(
    tmp_path: Path,
) -> None:
    """setsid puts it in a new session and group, out of killpg's reach; it still carries
    the execution id in its environment, and that is how it is found."""
    pidfile = tmp_path / "pid"
    script = f"setsid bash -c 'echo $$ > {pidfile}; exec sleep 300' & wait"
    env = {**os.environ, "ST2_ACTION_EXECUTION_ID": "e-setsid-test"}
    escaped: list[int] = []

    async def on_start(pid: int) -> None:
        escaped.append(int(await _wait_file(pidfile)))
        assert os.getpgid(escaped[0]) != os.getpgid(pid)  # really out of the group

    outcome = await run_process(
        ["bash", "-c", script], cwd=None, env=env, timeout=0.3, cancel=asyncio.Event(),
        output_limit=1 << 20, on_start=on_start,
    )  # fmt: skip
    assert outcome.timed_out
    await wait_dead(escaped[0], WAIT)


async def test_cancel_kills_the_whole_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    cancel = asyncio.Event()
    task = asyncio.create_task(
        _process(
            ["bash", "-c", f"sleep 300 & echo $! > {pidfile}; echo started; wait"], cancel=cancel
        )
    )
    grandchild = int(await _wait_file(pidfile))
    cancel.set()
    async with asyncio.timeout(WAIT):
        outcome = await task
    assert outcome.canceled and not outcome.timed_out
    assert outcome.stdout == "started\n"
    await wait_dead(grandchild, WAIT)


async def test_canceling_the_caller_kills_the_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    task = asyncio.create_task(_process(["bash", "-c", f"sleep 300 & echo $! > {pidfile}; wait"]))
    grandchild = int(await _wait_file(pidfile))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        async with asyncio.timeout(WAIT):
            await task
    await wait_dead(grandchild, WAIT)


async def test_background_job_with_closed_pipes_is_left_alone() -> None:
    # The nohup-style pattern: output redirected, so the action ends when bash does.
    script = "sleep 300 >/dev/null 2>&1 & echo $!"
    async with asyncio.timeout(WAIT):
        outcome = await _process(["bash", "-c", script], timeout=WAIT)
    daemon = int(outcome.stdout)
    try:
        assert outcome.return_code == 0 and not outcome.timed_out
        assert process_alive(daemon)
    finally:
        os.kill(daemon, 9)


async def test_cancel_set_before_start_spawns_nothing() -> None:
    cancel = asyncio.Event()
    cancel.set()
    started: list[int] = []

    async def on_start(pid: int) -> None:
        started.append(pid)

    outcome = await _process(["true"], cancel=cancel, on_start=on_start)
    assert outcome.canceled and started == []


async def test_missing_program_raises() -> None:
    with pytest.raises(FileNotFoundError):
        await _process(["/nonexistent/program"])


# --- local-shell-cmd -----------------------------------------------------------------------


async def test_cmd_result_shape_with_json_stdout(tmp_path: Path) -> None:
    result = await _cmd(tmp_path, """echo '{"a": [1, 2]}'; echo 5 >&2""")
    assert result.status is S.SUCCEEDED
    assert result.result == {
        "stdout": {"a": [1, 2]},
        "stderr": 5,
        "return_code": 0,
        "succeeded": True,
        "failed": False,
    }


async def test_cmd_failure(tmp_path: Path) -> None:
    result = await _cmd(tmp_path, "echo 'not found' >&2; exit 1")
    assert result.status is S.FAILED
    assert result.result["return_code"] == 1
    assert result.result["stderr"] == "not found"
    assert result.result["failed"] is True and result.result["succeeded"] is False


async def test_cmd_only_one_trailing_newline_stripped(tmp_path: Path) -> None:
    result = await _cmd(tmp_path, "printf 'two\\n\\n'")
    assert result.result["stdout"] == "two\n"


async def test_cmd_timeout(tmp_path: Path) -> None:
    result = await _cmd(tmp_path, "echo before; sleep 300", timeout=0.5)
    assert result.status is S.TIMEOUT
    assert result.result["return_code"] == -9
    assert result.result["error"] == "Action failed to complete in 0.5 seconds"
    assert result.result["failed"] is True


async def test_cmd_sigterm_is_abandoned(tmp_path: Path) -> None:
    result = await _cmd(tmp_path, "kill -TERM $$")
    assert result.status is S.ABANDONED
    assert result.result["return_code"] == -15


async def test_cmd_cancel(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    ctx = _ctx(tmp_path, {"cmd": f"echo x > {marker}; sleep 300"})
    task = asyncio.create_task(LocalShellCmdRunner().run(ctx))
    await _wait_file(marker)
    ctx.cancel.set()
    async with asyncio.timeout(WAIT):
        result = await task
    assert result.status is S.CANCELED


async def test_cmd_env_and_cwd(tmp_path: Path) -> None:
    ctx = _ctx(
        tmp_path,
        {
            "cmd": 'echo "$ST2_ACTION_PACK_NAME $MINE $NUM $(pwd)"',
            "env": {"MINE": "v", "NUM": 3},
            "cwd": str(tmp_path),
        },
        env={"ST2_ACTION_PACK_NAME": "tests"},
    )
    result = await LocalShellCmdRunner().run(ctx)
    assert result.result["stdout"] == f"tests v 3 {tmp_path}"
    # Squall's own environment is inherited.
    path = await _cmd(tmp_path, 'echo "$PATH"')
    assert path.result["stdout"] == os.environ["PATH"]


async def test_cmd_reports_process_start(tmp_path: Path) -> None:
    started: list[int] = []

    async def on_start(pgid: int) -> None:
        started.append(pgid)

    ctx = _ctx(tmp_path, {"cmd": "echo $$"}, on_process_start=on_start)
    result = await LocalShellCmdRunner().run(ctx)
    assert started == [result.result["stdout"]]


async def test_cmd_output_is_capped(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, {"cmd": "head -c 5000 /dev/zero | tr '\\0' z"}, output_limit_bytes=100)
    result = await LocalShellCmdRunner().run(ctx)
    assert result.status is S.SUCCEEDED
    assert result.result["stdout"].startswith("z" * 100 + "\n...[output truncated: 4900 bytes")


async def test_cmd_missing_or_bad(tmp_path: Path) -> None:
    empty = await LocalShellCmdRunner().run(_ctx(tmp_path, {}))
    assert empty.status is S.FAILED and "no cmd" in empty.result["error"]
    bad_cwd = await _cmd(tmp_path, "true", cwd=str(tmp_path / "missing"))
    assert bad_cwd.status is S.FAILED
    assert bad_cwd.result["return_code"] == 127 and "missing" in bad_cwd.result["error"]


async def test_cmd_sudo_password_is_refused(tmp_path: Path) -> None:
    result = await _cmd(tmp_path, "touch ran", sudo=True, sudo_password="pw", cwd=str(tmp_path))
    assert result.status is S.FAILED
    assert result.result["error"] == SUDO_PASSWORD_UNSUPPORTED
    assert not (tmp_path / "ran").exists()


# --- local-shell-script --------------------------------------------------------------------

SCHEMA = {
    "pos_b": {"type": "string", "position": 1},
    "pos_a": {"type": "integer", "position": 0},
    "flag": {"type": "boolean"},
    "name": {"type": "string"},
    "items": {"type": "array", "position": 2},
}


async def _script(
    tmp_path: Path,
    params: Mapping[str, Any],
    *,
    script: str = "print_args.sh",
    schema: Mapping[str, Any] = SCHEMA,
    **runner_parameters: Any,
) -> RunnerResult:
    _pack(tmp_path, script)
    ctx = _ctx(
        tmp_path,
        runner_parameters,
        runner_type="local-shell-script",
        entry_point=script,
        parameters=schema,
        action_parameters=params,
    )
    return await LocalShellScriptRunner().run(ctx)


async def test_script_argv_named_then_positional(tmp_path: Path) -> None:
    params = {"pos_a": 7, "pos_b": "two words", "flag": True, "name": "n", "items": ["x", "y"]}
    result = await _script(tmp_path, params)
    assert result.status is S.SUCCEEDED
    assert _args(result.result["stdout"]) == ["--flag", "--name=n", "7", "two words", "x,y"]


async def test_script_kwarg_op_and_empty_positionals(tmp_path: Path) -> None:
    result = await _script(tmp_path, {"name": "n", "flag": False}, kwarg_op="-")
    assert _args(result.result["stdout"]) == ["-name=n", "", "", ""]


async def test_script_parameters_cannot_inject(tmp_path: Path) -> None:
    cwd = tmp_path / "work"
    (cwd / "x").mkdir(parents=True)
    hostile = {
        "name": "$(rm -rf x)",
        "pos_b": "; touch pwned",
        "items": ["`touch ticked`", "$(touch subst)"],
        "pos_a": "'; touch quoted; '",
    }
    result = await _script(tmp_path, hostile, cwd=str(cwd))
    assert result.status is S.SUCCEEDED
    assert _args(result.result["stdout"]) == [
        "--name=$(rm -rf x)",
        "'; touch quoted; '",
        "; touch pwned",
        "`touch ticked`,$(touch subst)",
    ]
    assert sorted(p.name for p in cwd.iterdir()) == ["x"]


async def test_script_is_made_executable(tmp_path: Path) -> None:
    pack = _pack(tmp_path, "print_args.sh")
    script = pack / "actions" / "print_args.sh"
    script.chmod(0o644)
    result = await _script(tmp_path, {"name": "n"})
    assert result.status is S.SUCCEEDED
    assert script.stat().st_mode & 0o777 == 0o755


async def test_script_runs_through_shebang_when_chmod_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = _pack(tmp_path, "print_args.py")
    script = pack / "actions" / "print_args.py"
    script.chmod(0o444)

    def read_only(self: Path, mode: int) -> None:
        raise PermissionError(13, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "chmod", read_only)
    result = await _script(tmp_path, {"name": "n"}, script="print_args.py")
    assert result.status is S.SUCCEEDED
    assert result.result["stdout"] == ["--name=n", "", "", ""]
    assert stat.S_IMODE(script.stat().st_mode) == 0o444


async def test_script_without_shebang_runs_under_bash(tmp_path: Path) -> None:
    schema = {"word": {"type": "string", "position": 0}}
    result = await _script(tmp_path, {"word": "hi"}, script="no_shebang.sh", schema=schema)
    assert result.status is S.SUCCEEDED
    assert result.result["stdout"] == "no shebang: bash hi"


async def test_script_debug_traces_shell_scripts_only(tmp_path: Path) -> None:
    shell = await _script(tmp_path, {"name": "n"}, debug=True)
    assert shell.status is S.SUCCEEDED
    assert "+ printf" in shell.result["stderr"]
    python = await _script(tmp_path, {"name": "n"}, script="print_args.py", debug=True)
    assert python.status is S.SUCCEEDED
    assert python.result["stderr"] == ""


async def test_script_run_as_cmd(tmp_path: Path) -> None:
    pack = _pack(tmp_path, "print_args.sh")
    cmd = f"{pack / 'actions' / 'print_args.sh'} 'fixed arg'"
    result = await _script(tmp_path, {"pos_a": 1, "name": "n"}, cmd=cmd)
    assert _args(result.result["stdout"]) == ["fixed arg", "--pos_a=1", "--name=n"]


async def test_script_missing_entry_point(tmp_path: Path) -> None:
    _pack(tmp_path)
    ctx = _ctx(tmp_path, {}, runner_type="local-shell-script", entry_point="nope.sh")
    result = await LocalShellScriptRunner().run(ctx)
    assert result.status is S.FAILED
    assert result.result["return_code"] == 127 and "nope.sh" in result.result["error"]


async def test_script_failure_and_timeout(tmp_path: Path) -> None:
    pack = _pack(tmp_path)
    (pack / "actions" / "slow.sh").write_text("#!/bin/bash\necho partial\nsleep 300\n")
    (pack / "actions" / "fail.sh").write_text("#!/bin/bash\necho bad >&2\nexit 4\n")
    ctx = _ctx(tmp_path, {"timeout": 0.5}, runner_type="local-shell-script", entry_point="slow.sh")
    slow = await LocalShellScriptRunner().run(ctx)
    assert slow.status is S.TIMEOUT and slow.result["return_code"] == -9
    ctx = _ctx(tmp_path, {}, runner_type="local-shell-script", entry_point="fail.sh")
    fail = await LocalShellScriptRunner().run(ctx)
    assert fail.status is S.FAILED
    assert (fail.result["return_code"], fail.result["stderr"]) == (4, "bad")


# --- noop ----------------------------------------------------------------------------------


async def test_noop(tmp_path: Path) -> None:
    runner = NoopRunner()
    result = await runner.run(_ctx(tmp_path, {}, runner_type="noop"))
    await runner.close()
    assert result == RunnerResult(
        S.SUCCEEDED, {"failed": False, "succeeded": True, "return_code": 0}
    )


def test_restart_cleanup_also_kills_a_process_that_left_the_group() -> None:
    """After a crash, the dead process's execution may have a setsid'd process outside its
    group: recovery finds it by the execution id in its environment."""
    env = {**os.environ, "ST2_ACTION_EXECUTION_ID": "e-recovery-setsid"}
    escaped = subprocess.Popen(["sleep", "300"], env=env, start_new_session=True)
    try:
        gone_group = 2**22 + 12345  # the group's leader is long gone
        assert kill_leftover_group(gone_group, "e-recovery-setsid")
        assert escaped.wait(timeout=WAIT) == -9
    finally:
        if escaped.poll() is None:
            escaped.kill()
            escaped.wait(timeout=WAIT)

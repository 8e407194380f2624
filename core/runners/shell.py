"""The local shell runners, ``local-shell-cmd`` and ``local-shell-script`` (st2-format §2.4).

Both build an argv, run it with :func:`run_process` and shape st2's result; they differ only in
how the argv is made.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping, Sequence
from typing import Any

from core.models import ExecutionStatus, RunnerType
from core.runners.argv import build_cmd_argv, build_script_argv
from core.runners.base import RunContext, RunnerResult
from core.runners.output import decode_output
from core.runners.process import ProcessOutcome, run_process
from core.runners.shell_script import launcher
from core.runners.types import LOCAL_SHELL_CMD, LOCAL_SHELL_SCRIPT, bad_env_name

# A process killed by SIGTERM was stopped from outside (shutdown, operator): st2 says abandoned.
_SIGTERM_RETURN_CODE = -15
SUDO_PASSWORD_UNSUPPORTED = (
    "sudo_password is not supported: give the Squall user passwordless sudo for this command"
)


class _LocalShell:
    """What both local shell runners share: the environment their actions start from."""

    def __init__(self) -> None:
        # Squall's own environment, copied once: Squall never changes it while it runs, and
        # copying os.environ (a decode per variable) cost ~40 µs for every run.
        self.base_env = dict(os.environ)

    async def close(self) -> None:
        """Nothing long-lived: every run owns its subprocess."""


class LocalShellCmdRunner(_LocalShell):
    runner_type: RunnerType = LOCAL_SHELL_CMD

    async def run(self, ctx: RunContext) -> RunnerResult:
        cmd = ctx.runner_parameters.get("cmd")
        if not isinstance(cmd, str) or not cmd.strip():
            return error_result(f"action {ctx.action.ref} has no cmd to run", return_code=1)
        # The only place Squall hands text to a shell: cmd comes from the pack's metadata, and
        # the parameter pipeline has rendered (and quoted) whatever chat supplied into it.
        return await execute(ctx, ["bash", "-c", cmd], self.base_env)


class LocalShellScriptRunner(_LocalShell):
    runner_type: RunnerType = LOCAL_SHELL_SCRIPT

    async def run(self, ctx: RunContext) -> RunnerResult:
        kwarg_op = ctx.runner_parameters.get("kwarg_op")
        kwarg_op = "--" if kwarg_op is None else str(kwarg_op)
        cmd = ctx.runner_parameters.get("cmd")
        if isinstance(cmd, str) and cmd.strip():
            argv = build_cmd_argv(cmd, ctx.action_parameters, kwarg_op)
            return await execute(ctx, argv, self.base_env)
        script = ctx.action.entry_point_path
        if script is None or not script.is_file():
            error = f"action {ctx.action.ref}: entry point {ctx.action.entry_point!r} not found"
            return error_result(error, return_code=127)
        try:
            prefix = launcher(script, bool(ctx.runner_parameters.get("debug")))
        except OSError as exc:
            return error_result(f"cannot read {script}: {exc}", return_code=126)
        argv = build_script_argv(
            str(script), ctx.action.parameters, ctx.action_parameters, kwarg_op
        )
        return await execute(ctx, [*prefix, *argv], self.base_env)


def build_env(ctx: RunContext, base: Mapping[str, str]) -> dict[str, str]:
    """Squall's own environment, then the service's variables, then the action's ``env``."""
    env = dict(base)
    env.update(ctx.env)
    extra: Mapping[str, Any] = ctx.runner_parameters.get("env") or {}
    env.update({str(k): str(v) for k, v in extra.items() if v is not None})
    return env


def sudo_error(runner_parameters: Mapping[str, Any]) -> str | None:
    """Why this sudo request cannot run, if it cannot."""
    if runner_parameters.get("sudo") and runner_parameters.get("sudo_password"):
        return SUDO_PASSWORD_UNSUPPORTED
    return None


def wrap_sudo(argv: Sequence[str], sudo: bool, euid: int) -> list[str]:
    """``sudo -E -- argv`` as st2 does; as root it is a no-op that would only need the binary."""
    if not sudo or euid == 0:
        return list(argv)
    return ["sudo", "-E", "--", *argv]


async def execute(
    ctx: RunContext, argv: Sequence[str], base_env: Mapping[str, str]
) -> RunnerResult:
    """Run ``argv`` for a shell runner and shape the st2 result."""
    if error := sudo_error(ctx.runner_parameters):
        return error_result(error, return_code=1)
    if bad_env_name(ctx.runner_parameters):  # validated at request; a stored row is re-checked
        return error_result("parameter 'env' has a key that is not a variable name", return_code=1)
    argv = wrap_sudo(argv, bool(ctx.runner_parameters.get("sudo")), os.geteuid())
    try:
        outcome = await run_process(
            argv,
            cwd=ctx.runner_parameters.get("cwd") or None,
            env=build_env(ctx, base_env),
            timeout=ctx.timeout,
            cancel=ctx.cancel,
            output_limit=ctx.output_limit_bytes,
            on_start=ctx.on_process_start,
            on_output=ctx.on_output,
        )
    except OSError as exc:
        # Shells report these as 127 (not found) and 126 (cannot execute); keep those codes.
        code = 127 if exc.errno == errno.ENOENT else 126
        return error_result(f"cannot start {argv[0]}: {exc}", return_code=code)
    return shell_result(outcome, ctx.timeout)


def shell_result(outcome: ProcessOutcome, timeout: float | None) -> RunnerResult:
    status = outcome_status(outcome)
    result: dict[str, Any] = {
        "stdout": decode_output(outcome.stdout),
        "stderr": decode_output(outcome.stderr),
        "return_code": outcome.return_code,
        "succeeded": status is ExecutionStatus.SUCCEEDED,
        "failed": status is not ExecutionStatus.SUCCEEDED,
    }
    if outcome.timed_out:
        result["error"] = f"Action failed to complete in {timeout or 0:g} seconds"
    return RunnerResult(status, result)


def outcome_status(outcome: ProcessOutcome) -> ExecutionStatus:
    if outcome.timed_out:
        return ExecutionStatus.TIMEOUT
    if outcome.canceled:
        return ExecutionStatus.CANCELED
    if outcome.return_code == 0:
        return ExecutionStatus.SUCCEEDED
    if outcome.return_code == _SIGTERM_RETURN_CODE:
        return ExecutionStatus.ABANDONED
    return ExecutionStatus.FAILED


def error_result(error: str, *, return_code: int) -> RunnerResult:
    """A failed result for an action that never ran, in the same shape as one that did."""
    result = {
        "stdout": "",
        "stderr": "",
        "return_code": return_code,
        "succeeded": False,
        "failed": True,
        "error": error,
    }
    return RunnerResult(ExecutionStatus.FAILED, result)

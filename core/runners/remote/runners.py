"""``remote-shell-cmd`` and ``remote-shell-script`` (st2-format §2.4) over asyncssh."""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from core.models import RunnerType
from core.runners.argv import build_script_argv
from core.runners.base import RunContext, RunnerResult
from core.runners.remote.command import (
    CommandError,
    Sudo,
    remote_command,
    remote_launcher,
    script_body,
)
from core.runners.remote.connect import Connections, RemoteHostError
from core.runners.remote.hostrun import run_on_hosts
from core.runners.remote.hosts import Target
from core.runners.remote.options import SshOptions
from core.runners.remote.session import RemoteOutcome, run_remote
from core.runners.remote.sshlib import asyncssh
from core.runners.shell import error_result
from core.runners.shell_script import first_line
from core.runners.types import REMOTE_SHELL_CMD, REMOTE_SHELL_SCRIPT

logger = logging.getLogger(__name__)


def _sudo(params: Mapping[str, Any]) -> Sudo:
    return Sudo(bool(params.get("sudo")), params.get("sudo_password") or None)


def _env(ctx: RunContext) -> dict[str, Any]:
    """The service's ``ST2_ACTION_*`` variables, then the action's ``env``."""
    return {**ctx.env, **(ctx.runner_parameters.get("env") or {})}


async def _run(ctx: RunContext, conn: asyncssh.SSHClientConnection, body: str) -> RemoteOutcome:
    params = ctx.runner_parameters
    sudo = _sudo(params)
    command = remote_command(body, cwd=params.get("cwd") or None, env=_env(ctx), sudo=sudo)
    return await run_remote(
        conn,
        command,
        sudo=sudo,
        timeout=ctx.timeout,
        cancel=ctx.cancel,
        output_limit=ctx.output_limit_bytes,
    )


class RemoteShellCmdRunner:
    runner_type: RunnerType = REMOTE_SHELL_CMD

    def __init__(self, options: SshOptions) -> None:
        self.options = options

    async def run(self, ctx: RunContext) -> RunnerResult:
        cmd = ctx.runner_parameters.get("cmd")
        if not isinstance(cmd, str) or not cmd.strip():
            return error_result(f"action {ctx.action.ref} has no cmd to run", return_code=1)
        try:
            _env_checked(ctx)
        except CommandError as exc:
            return error_result(str(exc), return_code=1)

        async def on_host(connections: Connections, target: Target) -> RemoteOutcome:
            return await _run(ctx, await connections.get(target), cmd)

        return await run_on_hosts(ctx, self.options, on_host)

    async def close(self) -> None:
        """Nothing long-lived: connections live as long as one execution."""


class RemoteShellScriptRunner:
    runner_type: RunnerType = REMOTE_SHELL_SCRIPT

    def __init__(self, options: SshOptions) -> None:
        self.options = options

    async def run(self, ctx: RunContext) -> RunnerResult:
        script = ctx.action.entry_point_path
        if script is None or not script.is_file():
            error = f"action {ctx.action.ref}: entry point {ctx.action.entry_point!r} not found"
            return error_result(error, return_code=127)
        try:
            _env_checked(ctx)
            launcher = remote_launcher(first_line(script), bool(ctx.runner_parameters.get("debug")))
        except CommandError as exc:
            return error_result(str(exc), return_code=1)
        except OSError as exc:
            return error_result(f"cannot read {script}: {exc}", return_code=126)

        async def on_host(connections: Connections, target: Target) -> RemoteOutcome:
            conn = await connections.get(target)
            remote_dir = _execution_dir(ctx)
            remote_script = await _upload(conn, script, remote_dir, target)
            try:
                argv = _script_argv(ctx, str(remote_script))
                return await _run(ctx, conn, script_body(launcher, argv))
            finally:
                await _remove(conn, remote_dir, target)

        return await run_on_hosts(ctx, self.options, on_host)

    async def close(self) -> None:
        """Nothing long-lived: connections live as long as one execution."""


def _env_checked(ctx: RunContext) -> None:
    remote_command("true", cwd=None, env=_env(ctx), sudo=Sudo(False))


def _script_argv(ctx: RunContext, remote_script: str) -> list[str]:
    kwarg_op = ctx.runner_parameters.get("kwarg_op")
    kwarg_op = "--" if kwarg_op is None else str(kwarg_op)
    return build_script_argv(remote_script, ctx.action.parameters, ctx.action_parameters, kwarg_op)


def _execution_dir(ctx: RunContext) -> PurePosixPath:
    """A fresh folder per execution and host; the random part keeps two "hosts" sharing one
    filesystem apart and makes the name unguessable (it must not exist yet)."""
    base = ctx.runner_parameters.get("dir") or "/tmp"
    return PurePosixPath(str(base)) / f"squall-{ctx.execution_id}-{secrets.token_hex(4)}"


async def _upload(
    conn: asyncssh.SSHClientConnection, script: Path, remote_dir: PurePosixPath, target: Target
) -> PurePosixPath:
    """The script (and the pack's ``actions/lib``, as st2 copies it) into a private folder."""
    remote_script = remote_dir / script.name
    try:
        async with conn.start_sftp_client() as sftp:
            await sftp.mkdir(str(remote_dir), attrs=asyncssh.SFTPAttrs(permissions=0o700))
            await sftp.put(str(script), str(remote_script))
            await sftp.chmod(str(remote_script), 0o700)
            lib = script.parent / "lib"
            if lib.is_dir():
                await sftp.put(str(lib), str(remote_dir / "lib"), recurse=True)
    except (OSError, asyncssh.Error) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise RemoteHostError(
            f"cannot copy the script to {target.label}:{remote_dir}: {reason}"
        ) from None
    return remote_script


async def _remove(
    conn: asyncssh.SSHClientConnection, remote_dir: PurePosixPath, target: Target
) -> None:
    try:
        async with conn.start_sftp_client() as sftp:
            with contextlib.suppress(asyncssh.SFTPNoSuchFile):
                await sftp.rmtree(str(remote_dir))
    except (OSError, asyncssh.Error) as exc:
        logger.warning("could not remove %s on %s: %s", remote_dir, target.label, exc)

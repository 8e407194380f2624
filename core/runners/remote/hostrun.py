"""Running one job on every host of an action: limits, per-host results, st2's status rule."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from core.models import ExecutionStatus
from core.runners.base import RunContext, RunnerResult
from core.runners.output import decode_output
from core.runners.remote.connect import Connections, RemoteHostError, credentials
from core.runners.remote.hosts import HostListError, Target, parse_hosts, parse_target
from core.runners.remote.options import SshOptions
from core.runners.remote.session import RemoteOutcome
from core.runners.remote.sshlib import asyncssh
from core.runners.shell import error_result

# What a runner does on one host, given that host's (shared) connection.
HostJob = Callable[[Connections, Target], Awaitable[RemoteOutcome]]
S = ExecutionStatus
_UNREACHABLE_RETURN_CODE = 255  # what ssh(1) exits with when it cannot log in


async def run_on_hosts(ctx: RunContext, options: SshOptions, job: HostJob) -> RunnerResult:
    params = ctx.runner_parameters
    try:
        targets = parse_hosts(params.get("hosts"), params.get("port"))
        bastion = _bastion(params.get("bastion_host"), params.get("port"))
        creds = credentials(params, options)
    except (HostListError, RemoteHostError) as exc:
        return error_result(str(exc), return_code=_UNREACHABLE_RETURN_CODE)
    limit = asyncio.Semaphore(_parallelism(params, options))
    connections = Connections(options, creds, bastion)
    try:
        entries = await asyncio.gather(
            *(_one_host(ctx, connections, target, job, limit) for target in targets)
        )
    finally:
        await connections.close()
    results = {target.label: entry for target, entry in zip(targets, entries, strict=True)}
    return RunnerResult(overall_status(results, ctx.cancel.is_set()), results)


def overall_status(results: Mapping[str, Mapping[str, Any]], canceled: bool) -> ExecutionStatus:
    """st2: succeeded only if every host did; timeout only if every host timed out."""
    if canceled:
        return S.CANCELED
    if all(entry.get("succeeded") for entry in results.values()):
        return S.SUCCEEDED
    if all(entry.get("timeout") for entry in results.values()):
        return S.TIMEOUT
    return S.FAILED


def _parallelism(params: Mapping[str, Any], options: SshOptions) -> int:
    if not params.get("parallel"):
        return 1
    wanted = params.get("concurrency") or options.max_parallel
    return max(1, min(int(wanted), options.max_parallel))


def _bastion(value: object, port: int | None) -> Target | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return parse_target(value, port or 22)


async def _one_host(
    ctx: RunContext,
    connections: Connections,
    target: Target,
    job: HostJob,
    limit: asyncio.Semaphore,
) -> dict[str, Any]:
    async with limit:
        if ctx.cancel.is_set():
            return host_error("canceled before this host started", return_code=-9)
        try:
            outcome = await job(connections, target)
        except RemoteHostError as exc:
            return host_error(str(exc), return_code=_UNREACHABLE_RETURN_CODE)
        except (OSError, asyncssh.Error) as exc:
            # The connection broke mid-run (host rebooted, channel refused): this host fails.
            reason = getattr(exc, "reason", None) or exc
            error = f"SSH error with {target.label}: {reason}"
            return host_error(error, return_code=_UNREACHABLE_RETURN_CODE)
    return host_entry(outcome, ctx.timeout)


def host_entry(outcome: RemoteOutcome, timeout: float | None) -> dict[str, Any]:
    succeeded = outcome.return_code == 0 and not (outcome.timed_out or outcome.canceled)
    entry: dict[str, Any] = {
        "stdout": decode_output(outcome.stdout),
        "stderr": decode_output(outcome.stderr),
        "return_code": outcome.return_code,
        "succeeded": succeeded,
        "failed": not succeeded,
    }
    if outcome.timed_out:
        entry["timeout"] = True
        entry["error"] = f"Action failed to complete in {timeout or 0:g} seconds"
    elif outcome.canceled:
        entry["error"] = "canceled: the remote process group was killed"
    return entry


def host_error(error: str, *, return_code: int) -> dict[str, Any]:
    """The entry of a host the command never ran on, shaped like one it ran on."""
    return {
        "stdout": "",
        "stderr": "",
        "return_code": return_code,
        "succeeded": False,
        "failed": True,
        "error": error,
    }

"""Builds one instance of every runner Squall has, keyed by runner type name."""

from __future__ import annotations

from dataclasses import dataclass

from core.runners.base import Runner
from core.runners.http import HttpRequestRunner
from core.runners.noop import NoopRunner
from core.runners.python import PythonScriptRunner
from core.runners.shell import LocalShellCmdRunner, LocalShellScriptRunner
from core.runners.ssrf import HttpPolicy


@dataclass(frozen=True)
class RunnerOptions:
    python_fork_server: bool = True
    http_denied_networks: tuple[str, ...] | None = None
    http_allowed_networks: tuple[str, ...] = ()


def http_policy(options: RunnerOptions) -> HttpPolicy:
    if options.http_denied_networks is None:
        return HttpPolicy(allowed_networks=options.http_allowed_networks)
    return HttpPolicy(
        denied_networks=options.http_denied_networks,
        allowed_networks=options.http_allowed_networks,
    )


def build_runners(options: RunnerOptions = RunnerOptions()) -> dict[str, Runner]:
    runners: list[Runner] = [
        LocalShellCmdRunner(),
        LocalShellScriptRunner(),
        PythonScriptRunner(use_fork_server=options.python_fork_server),
        HttpRequestRunner(http_policy(options)),
        NoopRunner(),
    ]
    return {runner.runner_type.name: runner for runner in runners}

"""Builds one instance of every runner Squall has, keyed by runner type name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.kv.service import KeyValueService
from core.models import RunnerType
from core.runners.action_chain import ActionChainRunner
from core.runners.base import RunContext, Runner, RunnerResult
from core.runners.chat_post import ChatPoster, ChatPostRunner
from core.runners.http import HttpRequestRunner
from core.runners.inject_trigger import InjectTriggerRunner, TriggerSink
from core.runners.inquirer import InquirerRunner
from core.runners.noop import NoopRunner
from core.runners.orquesta import OrquestaRunner
from core.runners.pack_manage import PackManager, PackManageRunner
from core.runners.pack_python import PackPythonSettings
from core.runners.python import PythonScriptRunner
from core.runners.python_servers import IDLE_SECONDS
from core.runners.remote.options import SshOptions
from core.runners.shell import LocalShellCmdRunner, LocalShellScriptRunner
from core.runners.ssrf import HttpPolicy
from core.runners.types import REMOTE_SHELL_CMD, REMOTE_SHELL_SCRIPT

if TYPE_CHECKING:
    from core.approvals.inquiries import InquiryService
    from core.chains.engine import ChainEngine
    from core.workflows.engine import WorkflowEngine


@dataclass(frozen=True)
class RunnerOptions:
    python_fork_server: bool = True
    http_denied_networks: tuple[str, ...] | None = None
    http_allowed_networks: tuple[str, ...] = ()
    pack_python: PackPythonSettings = field(default_factory=PackPythonSettings)
    venv_idle_seconds: float = IDLE_SECONDS
    ssh: SshOptions = field(default_factory=SshOptions)


def http_policy(options: RunnerOptions) -> HttpPolicy:
    if options.http_denied_networks is None:
        return HttpPolicy(allowed_networks=options.http_allowed_networks)
    return HttpPolicy(
        denied_networks=options.http_denied_networks,
        allowed_networks=options.http_allowed_networks,
    )


class ImportedOnFirstRun:
    """A runner whose module, and the library behind it, is imported at its first run.

    The remote runners pull in asyncssh (about 18 MB resident, 0.15 s to import); a Squall
    that never runs a remote action should not carry it.
    """

    def __init__(self, runner_type: RunnerType, build: Callable[[], Runner]) -> None:
        self.runner_type = runner_type
        self._build = build
        self.runner: Runner | None = None

    async def run(self, ctx: RunContext) -> RunnerResult:
        if self.runner is None:
            self.runner = self._build()
        return await self.runner.run(ctx)

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.close()


def _remote_cmd(ssh: SshOptions) -> Runner:
    from core.runners.remote.runners import RemoteShellCmdRunner  # asyncssh: see above

    return RemoteShellCmdRunner(ssh)


def _remote_script(ssh: SshOptions) -> Runner:
    from core.runners.remote.runners import RemoteShellScriptRunner  # asyncssh: see above

    return RemoteShellScriptRunner(ssh)


def build_runners(
    options: RunnerOptions = RunnerOptions(), *, datastore: KeyValueService | None = None
) -> dict[str, Runner]:
    """``datastore`` backs python actions' ``action_service`` (None: it refuses)."""
    runners: list[Runner] = [
        LocalShellCmdRunner(),
        LocalShellScriptRunner(),
        ImportedOnFirstRun(REMOTE_SHELL_CMD, lambda: _remote_cmd(options.ssh)),
        ImportedOnFirstRun(REMOTE_SHELL_SCRIPT, lambda: _remote_script(options.ssh)),
        PythonScriptRunner(
            use_fork_server=options.python_fork_server,
            datastore=datastore,
            packs=options.pack_python,
            venv_idle_seconds=options.venv_idle_seconds,
        ),
        HttpRequestRunner(http_policy(options)),
        NoopRunner(),
        InjectTriggerRunner(),
        ChatPostRunner(),
        PackManageRunner(),
        OrquestaRunner(),
        ActionChainRunner(),
        InquirerRunner(),
    ]
    return {runner.runner_type.name: runner for runner in runners}


def connect_trigger_sink(runners: dict[str, Runner], sink: TriggerSink) -> None:
    """Give ``core.inject_trigger`` the engine's dispatcher (built after the runners)."""
    for runner in runners.values():
        if isinstance(runner, InjectTriggerRunner):
            runner.connect(sink)


def connect_chat_poster(runners: Mapping[str, Runner], poster: ChatPoster) -> None:
    """Give the ``chatops`` pack's runner the bot's outbound delivery (``squall serve`` only)."""
    for runner in runners.values():
        if isinstance(runner, ChatPostRunner):
            runner.connect(poster)


def connect_pack_manager(runners: Mapping[str, Runner], manager: PackManager) -> None:
    """Give the ``packs`` pack's runner the server's installer (``squall serve`` only)."""
    for runner in runners.values():
        if isinstance(runner, PackManageRunner):
            runner.connect(manager)


def connect_workflow_engine(runners: Mapping[str, Runner], engine: WorkflowEngine) -> None:
    """Give the ``orquesta`` runner the engine (built after the execution service)."""
    for runner in runners.values():
        if isinstance(runner, OrquestaRunner):
            runner.connect(engine)


def connect_chain_engine(runners: Mapping[str, Runner], engine: ChainEngine) -> None:
    """Give the ``action-chain`` runner the chain engine (built after the execution service)."""
    for runner in runners.values():
        if isinstance(runner, ActionChainRunner):
            runner.connect(engine)


def connect_inquiries(runners: Mapping[str, Runner], inquiries: InquiryService) -> None:
    """Give ``core.ask``'s runner the inquiry service (built after the approvals)."""
    for runner in runners.values():
        if isinstance(runner, InquirerRunner):
            runner.connect(inquiries)

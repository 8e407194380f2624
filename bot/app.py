"""Composition root: builds the engine from Settings inside one AsyncExitStack."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.chat.relay import ChatRelay
from bot.cluster import Cluster
from bot.settings import BUNDLED_PACKS_DIR, Settings
from core.aliases import AliasIndex
from core.approvals.gate import ApprovalGate
from core.approvals.inquiries import InquiryService
from core.approvals.service import ApprovalService
from core.auth.action_tokens import ActionTokenIssuer
from core.auth.service import AuthOptions, AuthService
from core.authz.audit import AuditLog
from core.authz.authorizer import Authorizer
from core.chains.engine import RUNNER_TYPE as CHAIN_RUNNER
from core.chains.engine import ChainEngine
from core.executions.notify import Notifier
from core.executions.recovery import abandon_orphans
from core.executions.service import ExecutionOptions, ExecutionService
from core.kv.keyfile import load_or_create_key
from core.kv.service import KeyValueService
from core.models import utcnow
from core.models.trace import TraceContext
from core.observe.store_timing import timed
from core.packs.loader import LoadResult, load_packs
from core.rules.refresh import load_overrides, refresh_forever
from core.rules.ruleset import RuleSet
from core.runners.inject_trigger import TriggerSink
from core.runners.pack_python import PackPythonSettings
from core.runners.registry import (
    RunnerOptions,
    build_runners,
    connect_chain_engine,
    connect_inquiries,
    connect_trigger_sink,
    connect_workflow_engine,
)
from core.runners.remote.options import HostKeyChecking, SshOptions
from core.store import Store, open_store
from core.store.gc import GarbageCollector, GcPolicy
from core.stream.bus import StreamBus
from core.stream.executions import ExecutionEvents
from core.takeover import Takeover
from core.triggers.dispatcher import TriggerDispatcher
from core.triggers.timers import TimerService
from core.workflows.engine import RUNNER_TYPE as WORKFLOW_RUNNER
from core.workflows.engine import WorkflowEngine

logger = logging.getLogger(__name__)

# How often `serve` looks for trigger instances other processes stored pending.
TRIGGER_SWEEP_SECONDS = 3.0
# How often `serve` expires approvals past their TTL and applies decisions a crash left behind.
APPROVAL_SWEEP_SECONDS = 2.0
# A trigger instance ``processing`` for this long is taken to belong to a dead process.
STALE_PROCESSING = timedelta(seconds=30)
BUNDLED_PACKS = BUNDLED_PACKS_DIR


@dataclass
class Engine:
    settings: Settings
    store: Store
    content: LoadResult
    executions: ExecutionService
    kv: KeyValueService
    triggers: TriggerDispatcher
    rules: RuleSet
    authz: Authorizer
    audit: AuditLog
    approvals: ApprovalService
    gate: ApprovalGate
    aliases: AliasIndex
    workflows: WorkflowEngine
    inquiries: InquiryService
    cluster: Cluster
    relay: ChatRelay
    auth: AuthService
    stream: StreamBus
    # The timers of this process when its roles include them (readiness looks at them).
    timers: TimerLeader | None = None
    # Publishes execution changes on ``stream``; the API's follower adds other processes' ones.
    stream_events: ExecutionEvents | None = None


def key_path(settings: Settings) -> Path:
    """``crypto.key_path``; a relative path is relative to the config file's folder."""
    path = settings.crypto.key_path.expanduser()
    return path if path.is_absolute() else settings.base_dir / path


def pack_python_settings(settings: Settings) -> PackPythonSettings:
    """Where pack venvs live: the same decision for actions, sensors and ``doctor``."""
    return PackPythonSettings(
        virtualenvs_dir=settings.packs.virtualenvs_dir,
        enable_common_libs=settings.packs.enable_common_libs,
    )


def _config_origin(settings: Settings) -> str:
    if settings.source is None:
        return f"no config file found; built-in defaults in {settings.base_dir}"
    return f"config {settings.source}"


def content_paths(settings: Settings) -> list[Path]:
    """The pack search path in load order: bundled packs first (``pack validate`` too)."""
    return [BUNDLED_PACKS, *settings.packs.paths]


def auth_options(settings: Settings) -> AuthOptions:
    api = settings.api
    return AuthOptions(
        token_ttl=timedelta(seconds=api.token_ttl_seconds),
        max_token_ttl=timedelta(seconds=api.max_token_ttl_seconds),
        action_token_ttl=timedelta(seconds=api.action_token_ttl_seconds),
        max_login_failures=api.max_login_failures,
        login_window_seconds=float(api.login_window_seconds),
    )


def load_content(settings: Settings) -> LoadResult:
    result = load_packs(
        content_paths(settings),
        config_dir=settings.packs.config_dir,
        alias_paths=settings.aliases.paths,
    )
    for error in result.errors:
        if error.warning:
            logger.warning("pack content: %s", error)
        else:
            logger.error("pack content skipped: %s", error)
    return result


def ssh_options(settings: Settings) -> SshOptions:
    ssh = settings.runners.ssh
    return SshOptions(
        user=ssh.user,
        key_file=str(ssh.key_file) if ssh.key_file else None,
        known_hosts=str(ssh.known_hosts),
        host_key_checking=HostKeyChecking(ssh.host_key_checking),
        connect_timeout=ssh.connect_timeout,
        max_parallel=ssh.max_parallel,
    )


@contextlib.asynccontextmanager
async def open_engine(settings: Settings, *, start: bool = True) -> AsyncIterator[Engine]:
    """Open the store, load packs, recover, and (if ``start``) run the execution workers."""
    async with contextlib.AsyncExitStack() as stack:
        store = timed(
            open_store(
                settings.store.url, base_dir=str(settings.base_dir), driver=settings.store.driver
            )
        )
        new_file = settings.store.sqlite_path
        created = new_file is not None and not new_file.exists()
        await store.open()
        stack.push_async_callback(store.close)
        if created:
            logger.info("created a new store: %s (%s)", new_file, _config_origin(settings))
        content = load_content(settings)
        keys = load_or_create_key(key_path(settings))
        store.seal_with(keys)
        kv = KeyValueService(store, keys)
        runners = build_runners(
            RunnerOptions(
                python_fork_server=settings.executions.python_fork_server,
                http_denied_networks=tuple(settings.runners.http.denied_networks),
                http_allowed_networks=tuple(settings.runners.http.allowed_networks),
                pack_python=pack_python_settings(settings),
                venv_idle_seconds=settings.packs.venv_idle_seconds,
                ssh=ssh_options(settings),
            ),
            datastore=kv,
        )
        options = ExecutionOptions(
            max_concurrency=settings.executions.max_concurrency,
            output_limit_bytes=settings.executions.output_limit_bytes,
            api_url=f"http://{settings.http.host}:{settings.http.port}/api/v1",
        )
        service = ExecutionService(store, content.index, runners, options, kv=kv)
        rules = RuleSet(content.index.rules.values())
        await load_overrides(rules, store.rule_states)  # `rule enable|disable`, before any use
        triggers = TriggerDispatcher(store, content.index, service, now=utcnow, rules=rules)
        engine_role = start and settings.cluster.has("engine")
        if start and not engine_role:  # a `serve` with the engine role processes them
            triggers = triggers.store_only()
        # Instances an execution emits in a short-lived CLI process are only stored (its
        # tasks would die with it); a `serve` sweeps them up.
        emitter = triggers if start else triggers.store_only()
        notifier = Notifier(emitter, content.index)
        service.add_completion_listener(notifier.on_completed, wants=notifier.wants)
        connect_trigger_sink(runners, _trigger_sink(emitter))
        authz = Authorizer(settings.authz)
        audit = AuditLog(store)
        approvals = ApprovalService(store, authz, audit)
        gate = ApprovalGate(service, approvals)
        aliases = AliasIndex(content.index.aliases.values())
        workflows = WorkflowEngine(service, kv=kv)
        connect_workflow_engine(runners, workflows)
        chains = ChainEngine(service, kv=kv)
        connect_chain_engine(runners, chains)
        inquiries = InquiryService(
            service, approvals, authz, self_response=settings.workflows.inquiry_self_response
        )
        inquiries.connect(emit=_trigger_sink(emitter), workflows=workflows)
        connect_inquiries(runners, inquiries)
        cluster = Cluster(store, settings.cluster, str(service.owner), now=utcnow)
        # Results for chat platforms another process holds go through the store's outbox.
        relay = ChatRelay(
            store, content.index, settings.routes, held=frozenset,
            progress_interval=settings.workflows.progress_interval_seconds,
        )  # fmt: skip
        service.add_completion_listener(
            relay.on_completed, wants=lambda execution: bool(relay.adapters_for(execution))
        )
        service.add_change_listener(relay.on_child_change, wants=relay.wants_child_change)
        service.observers.append(relay)  # run cards elsewhere show "running"
        inquiries.on_asked(relay.on_inquiry)
        approvals.subscribe(relay.on_decided)
        stack.push_async_callback(relay.close)
        auth = AuthService(store, authz, audit, auth_options(settings))
        stream = StreamBus(capacity=settings.api.stream_buffer_events)
        stream_events = ExecutionEvents(stream, service.to_api)
        service.observers.append(stream_events)
        if settings.api.enabled and settings.http.enabled:
            service.action_tokens = ActionTokenIssuer(auth)
        engine = Engine(
            settings, store, content, service, kv, triggers, rules, authz, audit, approvals, gate,
            aliases, workflows, inquiries, cluster, relay, auth, stream,
            stream_events=stream_events,
        )  # fmt: skip
        # Every command then shows the truth; workflows carry on (their engine recovers them).
        resumable = frozenset({WORKFLOW_RUNNER, CHAIN_RUNNER})
        for abandoned in await abandon_orphans(store, resumable=resumable):
            await notifier.on_completed(abandoned)
        if engine_role:
            await workflows.recover()
            _start_task(stack, workflows.poll_forever(), "workflow-poll")
            await chains.recover()
            _start_task(stack, chains.poll_forever(), "chain-poll")
            await service.start()
            grace = settings.executions.shutdown_grace_seconds
            stack.push_async_callback(service.stop, grace)
            # Pushed after service.stop, so it runs first: no execution requests after it.
            stack.push_async_callback(triggers.stop)
            await triggers.recover()
            _start_task(stack, triggers.sweep_forever(TRIGGER_SWEEP_SECONDS), "trigger-sweep")
            _start_gc(stack, store, settings)
            takeover = Takeover(
                store, workflows, triggers,
                [workflows.on_abandoned_child, notifier.on_completed, relay.on_completed],
                resumable=resumable, stale_after=STALE_PROCESSING, now=utcnow,
            )  # fmt: skip
            await _start_takeover(stack, cluster, takeover)
            await gate.reconcile()
            await inquiries.reconcile()
            _start_task(stack, _sweep_approvals(approvals, gate, inquiries), "approval-sweep")
        else:
            # stop() of a service that never started: waits for the completion listeners
            # (their actiontrigger instances must be stored) and closes the runners.
            stack.push_async_callback(service.stop, settings.executions.shutdown_grace_seconds)
        if start:
            engine.timers = await _start_timers(stack, triggers, rules, settings, cluster)
            refresh = refresh_forever(rules, store.rule_states, settings.rules.refresh_seconds)
            _start_task(stack, refresh, "rule-refresh")
        yield engine


async def _start_timers(
    stack: contextlib.AsyncExitStack,
    triggers: TriggerDispatcher,
    rules: RuleSet,
    settings: Settings,
    cluster: Cluster,
) -> TimerLeader | None:
    """Timer rules fire in the one process holding the ``timers`` lease; a new holder starts
    with the misfire policy (a tick missed within the grace fires once; its dedupe key keeps
    a tick the old holder already stored from firing twice)."""
    if not settings.timers.enabled or not settings.cluster.has("timers"):
        return None

    def make() -> TimerService:
        return TimerService(
            triggers,
            rules,
            now=utcnow,
            default_timezone=settings.timers.default_timezone,
            misfire_grace=timedelta(seconds=settings.timers.misfire_grace_seconds),
        )

    leader = TimerLeader(make)
    keeper = cluster.keeper("timers", leader.start, leader.stop)
    await keeper.start()
    # Pushed after triggers.stop, so it runs first: no tick is dispatched into a stopped one.
    stack.push_async_callback(keeper.stop)
    return leader


class TimerLeader:
    """A fresh TimerService each time this process takes the ``timers`` lease."""

    def __init__(self, make: Callable[[], TimerService]) -> None:
        self.make = make
        self.timers: TimerService | None = None

    async def start(self) -> None:
        self.timers = self.make()
        await self.timers.start()

    async def stop(self) -> None:
        timers, self.timers = self.timers, None
        if timers is not None:
            await timers.stop()


async def _start_takeover(
    stack: contextlib.AsyncExitStack, cluster: Cluster, takeover: Takeover
) -> None:
    """The holder of the ``recovery`` lease takes over the work of dead processes."""
    tasks: list[asyncio.Task[None]] = []

    async def gain() -> None:
        sweeping = takeover.run_forever(cluster.settings.renew_seconds * 2)
        tasks.append(asyncio.create_task(sweeping, name="takeover"))

    async def loss() -> None:
        while tasks:
            await _cancel(tasks.pop())

    keeper = cluster.keeper("recovery", gain, loss)
    await keeper.start()
    stack.push_async_callback(keeper.stop)


def _trigger_sink(triggers: TriggerDispatcher) -> TriggerSink:
    async def dispatch(
        ref: str,
        payload: dict[str, Any],
        source: str,
        trace_tag: str | None,
        trace: TraceContext | None,
    ) -> str:
        instance = await triggers.dispatch(
            ref, payload, source=source, trace_tag=trace_tag, trace=trace
        )
        return instance.id if instance is not None else ""

    return dispatch


def _start_task(
    stack: contextlib.AsyncExitStack, work: Coroutine[Any, Any, None], name: str
) -> None:
    """A background loop, cancelled on the way out (before the store closes)."""
    stack.push_async_callback(_cancel, asyncio.create_task(work, name=name))


def gc_policy(settings: Settings) -> GcPolicy:
    def days(value: float | None) -> timedelta | None:
        return None if value is None else timedelta(days=value)

    gc = settings.gc
    return GcPolicy(
        executions_ttl=days(gc.executions_ttl_days),
        trigger_instances_ttl=days(gc.trigger_instances_ttl_days),
        rule_enforcements_ttl=days(gc.rule_enforcements_ttl_days),
        outbox_ttl=outbox_ttl(settings),
    )


def outbox_ttl(settings: Settings) -> timedelta | None:
    seconds = settings.cluster.outbox_ttl_seconds
    return None if seconds is None else timedelta(seconds=seconds)


def _start_gc(stack: contextlib.AsyncExitStack, store: Store, settings: Settings) -> None:
    interval = settings.gc.interval_seconds
    if interval is None:
        return
    collector = GarbageCollector(store, gc_policy(settings), now=utcnow)
    _start_task(stack, collector.run_forever(interval), "garbage-collector")


async def _sweep_approvals(
    approvals: ApprovalService, gate: ApprovalGate, inquiries: InquiryService
) -> None:
    """Expire approvals past their TTL (the gate then ends their executions) and re-apply
    decisions another process made but did not apply."""
    while True:
        await asyncio.sleep(APPROVAL_SWEEP_SECONDS)
        try:
            await approvals.expire_due()
            await gate.reconcile()
            await inquiries.reconcile()
        except Exception:  # a store hiccup (Mongo failover): try again next time
            logger.exception("approval sweep failed")


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task

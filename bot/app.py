"""Composition root: builds the engine from Settings inside one AsyncExitStack."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from bot.settings import Settings
from core.executions.recovery import abandon_orphans
from core.executions.service import ExecutionOptions, ExecutionService
from core.kv.keyfile import load_or_create_key
from core.kv.service import KeyValueService
from core.models import utcnow
from core.notify import Notifier
from core.packs import LoadResult, load_packs
from core.rules.ruleset import RuleSet
from core.runners.registry import RunnerOptions, build_runners
from core.store import Store, open_store
from core.triggers.dispatcher import TriggerDispatcher

logger = logging.getLogger(__name__)

BUNDLED_PACKS = Path(__file__).resolve().parent.parent / "packs"


@dataclass
class Engine:
    settings: Settings
    store: Store
    content: LoadResult
    executions: ExecutionService
    kv: KeyValueService
    triggers: TriggerDispatcher
    rules: RuleSet


def key_path(settings: Settings) -> Path:
    """``crypto.key_path``; a relative path is relative to the config file's folder."""
    path = settings.crypto.key_path.expanduser()
    return path if path.is_absolute() else settings.base_dir / path


def load_content(settings: Settings) -> LoadResult:
    paths = [BUNDLED_PACKS, *settings.packs.paths]
    result = load_packs(paths, config_dir=settings.packs.config_dir)
    for error in result.errors:
        logger.error("pack content skipped: %s", error)
    return result


@contextlib.asynccontextmanager
async def open_engine(settings: Settings, *, start: bool = True) -> AsyncIterator[Engine]:
    """Open the store, load packs, recover, and (if ``start``) run the execution workers."""
    async with contextlib.AsyncExitStack() as stack:
        store = open_store(settings.store.url, base_dir=str(settings.base_dir))
        await store.open()
        stack.push_async_callback(store.close)
        content = load_content(settings)
        runners = build_runners(
            RunnerOptions(
                python_fork_server=settings.executions.python_fork_server,
                http_denied_networks=tuple(settings.runners.http.denied_networks),
                http_allowed_networks=tuple(settings.runners.http.allowed_networks),
            )
        )
        options = ExecutionOptions(
            max_concurrency=settings.executions.max_concurrency,
            output_limit_bytes=settings.executions.output_limit_bytes,
            api_url=f"http://{settings.http.host}:{settings.http.port}/api/v1",
        )
        kv = KeyValueService(store, load_or_create_key(key_path(settings)))
        service = ExecutionService(store, content.index, runners, options, kv=kv)
        rules = RuleSet(content.index.rules.values())
        triggers = TriggerDispatcher(store, content.index, service, now=utcnow, rules=rules)
        if start:  # a short-lived CLI process would close the store under its trigger tasks
            service.add_completion_listener(Notifier(triggers, content.index).on_completed)
        engine = Engine(settings, store, content, service, kv, triggers, rules)
        await abandon_orphans(store)  # cheap, and every command then shows the truth
        if start:
            await service.start()
            grace = settings.executions.shutdown_grace_seconds
            stack.push_async_callback(service.stop, grace)
            # Pushed after service.stop, so it runs first: no execution requests after it.
            stack.push_async_callback(triggers.stop)
            await triggers.recover()
        else:
            stack.push_async_callback(_close_runners, service)
        yield engine


async def _close_runners(service: ExecutionService) -> None:
    for runner in service.runners.values():
        await runner.close()

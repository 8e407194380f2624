"""The checks of ``squall doctor`` (config, store, packs, routes, chat adapters, sensors), shared
by the CLI command and the web console's Health page.

Every check runs even when an earlier one fails, so one run lists every problem. Exit code 1
when any check fails. When a ``squall serve`` with the listener answers on the configured
address, its adapter states and failed chat deliveries are shown too (failures are a warning:
they may be old and already recovered).
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.app import load_content, pack_python_settings
from bot.chat.render import describe_error
from bot.chat.routes import route_adapter_errors, route_errors
from bot.chat.runtime import configured_adapters
from bot.settings import Settings
from core.models import Pack
from core.models.execution import isoformat, utcnow
from core.packs.install import VenvState, venv_state
from core.sensors.status import SensorState, read_snapshot
from core.store import open_store


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    problems: int = 0

    def ok(self, what: str, detail: str) -> None:
        self.lines.append(f"ok    {what}: {detail}")

    def fail(self, what: str, detail: str) -> None:
        self.problems += 1
        self.lines.append(f"FAIL  {what}: {detail}")

    def warn(self, what: str, detail: str) -> None:
        self.lines.append(f"warn  {what}: {detail}")


async def run_checks(settings: Settings, report: Report, *, serve: bool = True) -> Report:
    """Every check on ``settings`` (``serve=False`` inside the running ``serve`` itself, which
    need not ask itself over HTTP)."""
    await check_store(settings, report)
    check_packs(settings, report)
    await check_adapters(settings, report)
    if serve:
        await check_running_serve(settings, report)
    check_sensors(settings, report)
    return report


async def check_store(settings: Settings, report: Report) -> None:
    store = open_store(
        settings.store.url, base_dir=str(settings.base_dir), driver=settings.store.driver
    )
    try:
        await store.open()
        try:
            version = await store.schema_version()
            leases = await store.leases.list()
            waiting = await store.outbox.count()
        finally:
            await store.close()
    except Exception as exc:
        report.fail("store", f"{settings.store.backend}: {describe_error(exc)}")
        return
    report.ok("store", f"{settings.store.identity}, schema version {version}")
    now = utcnow()
    for lease in leases:
        state = "held" if lease.is_live(now) else "expired, free to take"
        report.ok(
            f"lease {lease.name}",
            f"{state}: {lease.holder} since {isoformat(lease.acquired_at)},"
            f" until {isoformat(lease.expires)}",
        )
    if waiting:
        ttl = settings.cluster.outbox_ttl_seconds
        fate = "kept until delivered" if ttl is None else f"dropped after {ttl:g} s undelivered"
        report.warn(
            "chat outbox",
            f"{waiting} results or card edits wait for their chat's owner ({fate}:"
            " cluster.outbox_ttl_seconds)",
        )


def check_packs(settings: Settings, report: Report) -> None:
    content = load_content(settings)
    for error in content.errors:
        if error.warning:
            report.warn("packs", str(error))
        else:
            report.fail("packs", str(error))
    for error in route_errors(content.index, settings.routes):
        report.warn("routes", str(error))
    index = content.index
    report.ok("packs", f"{len(index.packs)} packs, {len(index.actions)} actions loaded")
    check_venvs(settings, content.index.packs.values(), report)


def check_venvs(settings: Settings, packs: Iterable[Pack], report: Report) -> None:
    """Which packs need ``squall pack setup-venv`` (their imports would fail or be stale)."""
    python = pack_python_settings(settings)
    for pack in sorted(packs, key=lambda p: p.ref):
        state = venv_state(python, pack.ref, pack.path)
        if state is VenvState.MISSING:
            why = "has a requirements.txt but no virtualenv"
        elif state is VenvState.STALE:
            why = "changed its requirements.txt since its virtualenv was built"
        else:
            continue
        report.warn("venvs", f"pack {pack.ref} {why}: run `squall pack setup-venv {pack.ref}`")


async def check_adapters(settings: Settings, report: Report) -> None:
    adapters = configured_adapters(settings)
    for problem in route_adapter_errors(settings.routes, (a.name for a in adapters)):
        report.fail("routes", problem)
    if not adapters:
        report.warn("chat", "no chat adapter is enabled")
    for adapter in adapters:
        try:
            refused = await adapter.check()
        except Exception as exc:
            refused = describe_error(exc)
        if refused:
            report.fail(f"adapter {adapter.name}", refused)
        else:
            report.ok(f"adapter {adapter.name}", "credentials ok")


async def check_running_serve(settings: Settings, report: Report) -> None:
    if not settings.http.enabled:
        return
    url = f"http://{settings.http.host}:{settings.http.port}/healthz"
    health = await asyncio.to_thread(fetch_json, url)
    if health is None:
        report.warn("serve", f"not answering on {url} (not running?)")
        return
    states = health.get("adapters", {})
    report.ok("serve", f"running; adapters {states}")
    theirs, ours = health.get("store_id"), settings.store.identity
    if theirs != ours:
        report.fail("serve", f"the serve on {url} uses store {theirs}, this config uses {ours}")
    failures = health.get("delivery_failures", 0)
    if failures:
        report.warn("chat delivery", f"{failures} posts failed after every retry (see the log)")
    for lost in health.get("delivery_failures_recent") or []:
        report.warn("chat delivery", f"{lost.get('at')} {lost.get('what')}: {lost.get('error')}")


def check_sensors(settings: Settings, report: Report) -> None:
    """From the state a running ``serve`` keeps in ``sensors.status_file``."""
    snapshot = read_snapshot(settings.sensors.status_file)
    if not snapshot.writer_alive or not snapshot.sensors:
        return
    statuses = snapshot.sensors.values()
    for status in statuses:
        if status.state == SensorState.FAILED:
            report.fail(f"sensor {status.ref}", f"given up after restarts: {status.last_error}")
    running = sum(1 for s in statuses if s.state == SensorState.RUNNING)
    report.ok("sensors", f"{running} of {len(snapshot.sensors)} running")


def fetch_json(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            data = json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None

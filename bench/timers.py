"""Timer dispatch overhead: how late a tick is stored, and what (re)scheduling costs.

Real ``AsyncIOScheduler``, dispatcher and SQLite store (``open_engine``); every rule runs
``core.noop``, so each tick also requests and runs an execution.

* lateness: stored instance ``occurrence_time`` minus the scheduled tick, for 1 and 100 timers
  ticking every second (CronTimer ``second: "*"``, one per timezone, so they are distinct
  timers all due in the same second).
* scheduling: ``TimerService.start`` with 1,000 distinct timers, and one rule disabled then
  enabled again (each change re-syncs the job set).

Run alone with ``python -m bench.timers`` (prints JSON).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
import zoneinfo
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.stats import percentile
from bot.app import Engine, open_engine
from bot.settings import load_settings
from core.models import Rule, utcnow
from core.models.trigger import RuleAction, RuleTrigger
from core.rules.ruleset import RuleSet
from core.triggers.dispatcher import TriggerDispatcher
from core.triggers.timers import TimerService

CRON = "core.st2.CronTimer"
TICKS = 3
SCHEDULED_TIMERS = 1_000
WAIT_SECONDS = 15.0


def _rule(i: int, parameters: dict[str, Any]) -> Rule:
    trigger = RuleTrigger(CRON, parameters)
    return Rule("bench", f"timer{i}", trigger, RuleAction("core.noop"), enabled=True)


@asynccontextmanager
async def _engine(workdir: Path) -> AsyncIterator[Engine]:
    config = workdir / "squall.yaml"
    config.write_text(
        "store:\n  url: sqlite:///squall.db\nhttp:\n  enabled: false\ntimers:\n  enabled: false\n"
    )
    async with open_engine(load_settings(config)) as engine:
        yield engine


@asynccontextmanager
async def _timers(engine: Engine, rules: RuleSet) -> AsyncIterator[TimerService]:
    dispatcher = TriggerDispatcher(
        engine.store, engine.content.index, engine.executions, now=utcnow, rules=rules
    )
    service = TimerService(dispatcher, rules, now=utcnow)
    try:
        yield service
    finally:
        await service.stop()
        await dispatcher.stop()


def _tick_of(dedupe_key: str) -> datetime:
    return datetime.fromisoformat(dedupe_key.split(":", 2)[2])


async def _lateness(workdir: Path, count: int) -> dict[str, Any]:
    zones = sorted(zoneinfo.available_timezones())[:count]
    rules = RuleSet(_rule(i, {"second": "*", "timezone": zone}) for i, zone in enumerate(zones))
    async with _engine(workdir) as engine, _timers(engine, rules) as service:
        started = utcnow()
        await service.start()
        wanted = count * TICKS
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            stored = await engine.store.trigger_instances.list(trigger=CRON, limit=wanted * 3)
            # The tick owed from just before the start (see TimerService) is not lateness.
            found = [i for i in stored if _tick_of(i.dedupe_key or "") >= started]
            if len(found) >= wanted or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
    late = sorted(
        (i.occurrence_time - _tick_of(i.dedupe_key or "")).total_seconds() * 1000 for i in found
    )
    return {
        "benchmark": f"tick → instance stored, {count} timer(s) every second",
        "instances": len(late),
        "late_ms_mean": round(statistics.fmean(late), 2),
        "late_ms_p50": round(percentile(late, 0.50), 2),
        "late_ms_p95": round(percentile(late, 0.95), 2),
        "late_ms_max": round(late[-1], 2),
    }


async def _scheduling(workdir: Path) -> list[dict[str, Any]]:
    rules = RuleSet(_rule(i, {"hour": i // 60, "minute": i % 60}) for i in range(SCHEDULED_TIMERS))
    async with _engine(workdir) as engine, _timers(engine, rules) as service:
        start = time.perf_counter()
        await service.start()
        started = time.perf_counter() - start
        start = time.perf_counter()
        rules.apply_overrides({"bench.timer0": False})
        rules.apply_overrides({})
        resynced = (time.perf_counter() - start) / 2
        assert len(service.next_fire_times()) == SCHEDULED_TIMERS
    return [
        {"benchmark": f"start with {SCHEDULED_TIMERS} timers", "ms": round(started * 1000, 1)},
        {
            "benchmark": f"re-sync {SCHEDULED_TIMERS} timers (one rule toggled)",
            "ms": round(resynced * 1000, 1),
        },
    ]


async def run(workdir: Path) -> list[dict[str, Any]]:
    rows = []
    for count in (1, 100):
        folder = workdir / f"lateness{count}"
        folder.mkdir()
        rows.append(await _lateness(folder, count))
    folder = workdir / "scheduling"
    folder.mkdir()
    return rows + await _scheduling(folder)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(run(Path(tmp))), indent=2))
    sys.exit(0)

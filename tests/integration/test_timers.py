"""Timer rules through the real AsyncIOScheduler, dispatcher and SQLite store.

The clock is moved with time-machine (it moves ``datetime.now`` for APScheduler and Squall
alike, never the event loop's monotonic clock), then ``wakeup()`` makes the scheduler look for
due ticks at once: no test waits for a tick in real time except the last, 1-second one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
import yaml

from bot.app import Engine, open_engine
from bot.settings import load_settings
from core.models import ExecutionStatus, Rule, utcnow
from core.models.trigger import RuleAction, RuleTrigger
from core.models.trigger_instance import FINISHED, TriggerInstance
from core.rules.ruleset import RuleSet
from core.store.base import ExecutionQuery
from core.triggers.dispatcher import TriggerDispatcher
from core.triggers.timers import TimerService

INTERVAL = "core.st2.IntervalTimer"
DATE = "core.st2.DateTimer"
CRON = "core.st2.CronTimer"
START = datetime(2026, 3, 7, 12, 0, 0, tzinfo=UTC)  # the day before New York's DST change
BOOT = START + timedelta(seconds=1)  # where each test's clock starts: just after a tick

Rules = dict[str, tuple[str, dict[str, Any]]]  # rule name → (trigger type, parameters)


def write_pack(directory: Path, rules: Rules) -> Path:
    pack = directory / "timer_demo"
    (pack / "rules").mkdir(parents=True)
    manifest = {"name": "timer_demo", "description": "timers", "version": "0.1.0", "author": "t"}
    (pack / "pack.yaml").write_text(yaml.safe_dump(manifest))
    for name, (trigger, parameters) in rules.items():
        rule = {
            "name": name,
            "enabled": True,
            "trigger": {"type": trigger, "parameters": parameters},
            "action": {"ref": "core.noop"},
        }
        (pack / "rules" / f"{name}.yaml").write_text(yaml.safe_dump(rule))
    return pack


def write_config(directory: Path, rules: Rules, *, timers_enabled: bool) -> Path:
    pack = write_pack(directory, rules)
    config = directory / "squall.yaml"
    config.write_text(
        "store:\n"
        "  url: sqlite:///var/squall.db\n"
        f"packs:\n  paths: ['{pack}']\n"
        "http:\n  enabled: false\n"
        "executions:\n  shutdown_grace_seconds: 0.2\n"
        f"timers:\n  enabled: {str(timers_enabled).lower()}\n"
    )
    return config


@pytest.fixture
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(BOOT, tick=False) as traveller:
        yield traveller


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path, rules: Rules, *, grace: float = 0.5, services: int = 1
) -> AsyncIterator[tuple[Engine, list[TimerService]]]:
    """An engine (timers off in its config) plus our own timer services on its dispatcher.

    The default grace is below the 1 s between BOOT and the tick before it, so tests that are
    not about missed ticks do not get the one owed from before the start.
    """
    settings = load_settings(write_config(tmp_path, rules, timers_enabled=False))
    async with open_engine(settings) as engine:
        started: list[TimerService] = []
        try:
            for _ in range(services):
                service = TimerService(
                    engine.triggers,
                    engine.rules,
                    now=utcnow,
                    misfire_grace=timedelta(seconds=grace),
                )
                await service.start()
                started.append(service)
            yield engine, started
        finally:
            for service in started:
                await service.stop()


async def tick(service: TimerService, clock: time_machine.Coordinates, to: datetime) -> None:
    clock.move_to(to)
    service.wakeup()
    await service.settle()


async def instances(engine: Engine, trigger: str, expected: int) -> list[TriggerInstance]:
    """The processed instances of ``trigger`` once there are ``expected`` (oldest first)."""

    async def poll() -> list[TriggerInstance]:
        while True:
            found = await engine.store.trigger_instances.list(trigger=trigger, limit=100)
            if len(found) >= expected and all(i.status in FINISHED for i in found):
                return sorted(found, key=lambda i: i.occurrence_time)
            await asyncio.sleep(0.02)

    found = await asyncio.wait_for(poll(), timeout=10)
    assert len(found) == expected
    return found


def fired_at(found: list[TriggerInstance]) -> list[str]:
    return [i.payload["executed_at"] for i in found]


async def test_interval_timer_fires_at_each_interval(
    tmp_path: Path, clock: time_machine.Coordinates
) -> None:
    rules: Rules = {"every5": (INTERVAL, {"unit": "seconds", "delta": 5})}
    async with running(tmp_path, rules) as (engine, (service,)):
        assert list(service.next_fire_times().values()) == [START + timedelta(seconds=5)]
        await tick(service, clock, START + timedelta(seconds=4))
        await instances(engine, INTERVAL, 0)
        await tick(service, clock, START + timedelta(seconds=5))
        await tick(service, clock, START + timedelta(seconds=10))
        found = await instances(engine, INTERVAL, 2)
        assert fired_at(found) == ["2026-03-07 12:00:05+00:00", "2026-03-07 12:00:10+00:00"]
        assert found[0].payload == {"executed_at": "2026-03-07 12:00:05+00:00", "schedule": None}
        assert found[0].trigger_parameters == {"unit": "seconds", "delta": 5}
        assert found[0].source == "timer:timer_demo.every5"
        (enforcement,) = await engine.store.rule_enforcements.list(trigger_instance_id=found[0].id)
        assert enforcement.rule_ref == "timer_demo.every5"
        assert enforcement.execution_id is not None
        done = await engine.executions.wait(enforcement.execution_id, timeout=10)
        assert (done.action_ref, done.status) == ("core.noop", ExecutionStatus.SUCCEEDED)


async def test_date_timer_fires_once(tmp_path: Path, clock: time_machine.Coordinates) -> None:
    rules: Rules = {"once": (DATE, {"date": "2026-03-07 08:00:10", "timezone": "America/New_York"})}
    async with running(tmp_path, rules) as (engine, (service,)):
        due = datetime(2026, 3, 7, 13, 0, 10, tzinfo=UTC)  # 08:00:10 EST
        assert list(service.next_fire_times().values()) == [due]
        await tick(service, clock, due)
        await tick(service, clock, due + timedelta(hours=1))
        assert fired_at(await instances(engine, DATE, 1)) == ["2026-03-07 13:00:10+00:00"]
        assert service.next_fire_times() == {}


async def test_past_date_timer_is_not_scheduled(
    tmp_path: Path, clock: time_machine.Coordinates
) -> None:
    rules: Rules = {"past": (DATE, {"date": "2020-01-01 00:00:00"})}
    async with running(tmp_path, rules) as (_, (service,)):
        assert service.next_fire_times() == {}


async def test_cron_timer_fires_at_the_local_minute_across_dst(
    tmp_path: Path, clock: time_machine.Coordinates
) -> None:
    rules: Rules = {"ny": (CRON, {"hour": 9, "minute": 0, "timezone": "America/New_York"})}
    async with running(tmp_path, rules) as (engine, (service,)):
        est = datetime(2026, 3, 7, 14, 0, tzinfo=UTC)  # 09:00 EST (UTC-5)
        edt = datetime(2026, 3, 8, 13, 0, tzinfo=UTC)  # 09:00 EDT (UTC-4), after the change
        assert list(service.next_fire_times().values()) == [est]
        await tick(service, clock, est - timedelta(seconds=1))
        await tick(service, clock, est)
        assert list(service.next_fire_times().values()) == [edt]
        await tick(service, clock, edt)
        found = await instances(engine, CRON, 2)
        assert fired_at(found) == ["2026-03-07 14:00:00+00:00", "2026-03-08 13:00:00+00:00"]


async def test_disabling_unschedules_and_enabling_reschedules(
    tmp_path: Path, clock: time_machine.Coordinates
) -> None:
    rules: Rules = {"every5": (INTERVAL, {"unit": "seconds", "delta": 5})}
    async with running(tmp_path, rules) as (engine, (service,)):
        engine.rules.apply_overrides({"timer_demo.every5": False})
        assert service.next_fire_times() == {}
        await tick(service, clock, START + timedelta(seconds=31))
        engine.rules.apply_overrides({"timer_demo.every5": True})
        assert list(service.next_fire_times().values()) == [START + timedelta(seconds=35)]
        await tick(service, clock, START + timedelta(seconds=35))
        assert fired_at(await instances(engine, INTERVAL, 1)) == ["2026-03-07 12:00:35+00:00"]


async def test_missed_ticks_within_grace_fire_once(
    tmp_path: Path, clock: time_machine.Coordinates
) -> None:
    rules: Rules = {"every5": (INTERVAL, {"unit": "seconds", "delta": 5})}
    async with running(tmp_path, rules, grace=60) as (engine, (service,)):
        await tick(service, clock, START + timedelta(seconds=32))  # six ticks due
        assert fired_at(await instances(engine, INTERVAL, 1)) == ["2026-03-07 12:00:32+00:00"]
        assert list(service.next_fire_times().values()) == [START + timedelta(seconds=35)]


async def test_missed_tick_beyond_grace_does_not_fire(
    tmp_path: Path, clock: time_machine.Coordinates
) -> None:
    rules: Rules = {"hourly": (CRON, {"minute": 30})}
    async with running(tmp_path, rules, grace=60) as (engine, (service,)):
        assert list(service.next_fire_times().values()) == [START + timedelta(minutes=30)]
        await tick(service, clock, START + timedelta(hours=1, minutes=45))  # 13:30 is 15 min old
        await instances(engine, CRON, 0)
        assert list(service.next_fire_times().values()) == [START + timedelta(hours=2, minutes=30)]


async def test_restart_within_grace_owes_one_fire_and_two_processes_store_it_once(
    tmp_path: Path, clock: time_machine.Coordinates
) -> None:
    clock.move_to(START + timedelta(seconds=20))  # down at 12:00:00, back 20 s later
    rules: Rules = {"hourly": (CRON, {"minute": 0})}
    async with running(tmp_path, rules, grace=60, services=2) as (engine, services):
        for service in services:
            service.wakeup()
            await service.settle()
        (instance,) = await instances(engine, CRON, 1)
        assert instance.payload["executed_at"] == "2026-03-07 12:00:20+00:00"
        assert instance.dedupe_key is not None and instance.dedupe_key.endswith("T12:00:00+00:00")


def new_service(engine: Engine) -> TimerService:
    grace = timedelta(seconds=60)
    return TimerService(engine.triggers, engine.rules, now=utcnow, misfire_grace=grace)


async def test_restart_after_a_fired_tick_does_not_fire_it_again(
    tmp_path: Path, clock: time_machine.Coordinates
) -> None:
    rules: Rules = {"hourly": (CRON, {"minute": 0})}
    clock.move_to(START - timedelta(seconds=10))
    async with running(tmp_path, rules, services=0) as (engine, _):
        before = new_service(engine)
        await before.start()
        await tick(before, clock, START)
        await before.stop()
        clock.move_to(START + timedelta(seconds=20))  # restarted within the grace
        after = new_service(engine)
        await after.start()
        await tick(after, clock, START + timedelta(seconds=21))
        await after.stop()
        assert fired_at(await instances(engine, CRON, 1)) == ["2026-03-07 12:00:00+00:00"]


async def test_processes_started_apart_agree_on_interval_ticks(
    tmp_path: Path, clock: time_machine.Coordinates
) -> None:
    rules: Rules = {"every5": (INTERVAL, {"unit": "seconds", "delta": 5})}
    async with running(tmp_path, rules) as (engine, (first,)):
        clock.move_to(BOOT + timedelta(seconds=2))
        gap = timedelta(seconds=0.5)
        second = TimerService(engine.triggers, engine.rules, now=utcnow, misfire_grace=gap)
        await second.start()
        try:
            assert second.next_fire_times() == first.next_fire_times()
            for service in (first, second):
                await tick(service, clock, START + timedelta(seconds=5))
        finally:
            await second.stop()
        assert fired_at(await instances(engine, INTERVAL, 1)) == ["2026-03-07 12:00:05+00:00"]


async def test_restart_beyond_grace_owes_nothing(
    tmp_path: Path, clock: time_machine.Coordinates
) -> None:
    clock.move_to(START + timedelta(minutes=5))
    rules: Rules = {"hourly": (CRON, {"minute": 0})}
    async with running(tmp_path, rules, grace=60) as (engine, (service,)):
        service.wakeup()
        await service.settle()
        await instances(engine, CRON, 0)
        assert list(service.next_fire_times().values()) == [START + timedelta(hours=1)]


async def test_bad_timer_rules_are_load_errors_and_others_still_run(
    tmp_path: Path, clock: time_machine.Coordinates
) -> None:
    rules: Rules = {
        "mars": (INTERVAL, {"unit": "seconds", "delta": 5, "timezone": "Mars/Olympus"}),
        "badcron": (CRON, {"minute": "*/x"}),
        "every5": (INTERVAL, {"unit": "seconds", "delta": 5}),
    }
    async with running(tmp_path, rules) as (engine, (service,)):
        errors = {e.file.name: (e.yaml_path, e.message) for e in engine.content.errors}
        assert errors["mars.yaml"][0] == "trigger.parameters"
        assert "Mars/Olympus" in errors["mars.yaml"][1]
        assert "*/x" in errors["badcron.yaml"][1]
        assert [r.name for r in engine.rules.all() if r.pack == "timer_demo"] == ["every5"]
        await tick(service, clock, START + timedelta(seconds=5))
        await instances(engine, INTERVAL, 1)


async def test_timer_the_loader_never_saw_is_logged_not_raised(
    tmp_path: Path, clock: time_machine.Coordinates, caplog: pytest.LogCaptureFixture
) -> None:
    bad = Rule(
        "code",
        "mars",
        RuleTrigger(INTERVAL, {"unit": "seconds", "delta": 5, "timezone": "Mars/Olympus"}),
        RuleAction("core.noop"),
        enabled=True,
    )
    async with running(tmp_path, {}, services=0) as (engine, _):
        rules = RuleSet([bad])
        dispatcher = TriggerDispatcher(
            engine.store, engine.content.index, engine.executions, now=utcnow, rules=rules
        )
        service = TimerService(dispatcher, rules, now=utcnow)
        with caplog.at_level(logging.ERROR, logger="core.triggers.timers"):
            await service.start()
        try:
            assert service.next_fire_times() == {}
        finally:
            await service.stop()
            await dispatcher.stop()
    messages = [r.getMessage() for r in caplog.records]
    assert any("code.mars" in m and "Mars/Olympus" in m for m in messages)


@pytest.mark.slow
async def test_serve_runs_a_one_second_timer_rule_end_to_end(tmp_path: Path) -> None:
    rules: Rules = {"tick": (INTERVAL, {"unit": "seconds", "delta": 1})}
    settings = load_settings(write_config(tmp_path, rules, timers_enabled=True))
    async with open_engine(settings) as engine:
        found = await first_instance(engine)
        (enforcement,) = await engine.store.rule_enforcements.list(trigger_instance_id=found.id)
        assert enforcement.execution_id is not None
        done = await engine.executions.wait(enforcement.execution_id, timeout=10)
        assert (done.action_ref, done.status) == ("core.noop", ExecutionStatus.SUCCEEDED)
        assert done.context["rule"]["ref"] == "timer_demo.tick"
        listed = await engine.store.executions.list(ExecutionQuery(limit=100))
        assert listed and all(e.action_ref == "core.noop" for e in listed)


async def first_instance(engine: Engine) -> TriggerInstance:
    async def poll() -> TriggerInstance:
        while True:
            found = await engine.store.trigger_instances.list(trigger=INTERVAL, limit=1)
            if found and found[0].status in FINISHED:
                return found[0]
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(poll(), timeout=10)

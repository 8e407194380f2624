"""Timer parameters → APScheduler triggers, and the missed-tick policy (pure, clock passed in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.rules.index import trigger_key
from core.triggers.timer_specs import (
    TimerSpecError,
    build_trigger,
    fire_dedupe_key,
    latest_missed_fire,
    pick_fire,
    timer_payload,
)

INTERVAL = "core.st2.IntervalTimer"
DATE = "core.st2.DateTimer"
CRON = "core.st2.CronTimer"
NOW = datetime(2026, 3, 7, 12, 0, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


def next_fires(ref: str, parameters: dict[str, Any], count: int) -> list[datetime]:
    trigger = build_trigger(ref, parameters, UTC)
    fires: list[datetime] = []
    previous = None
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, previous or NOW)
        assert previous is not None
        fires.append(previous.astimezone(UTC))
    return fires


def test_interval_timer_steps_by_its_unit() -> None:
    trigger = build_trigger(INTERVAL, {"unit": "minutes", "delta": 5}, UTC)
    assert trigger.get_next_fire_time(NOW, NOW) == NOW + 5 * MINUTE


def test_cron_fields_default_like_apscheduler() -> None:
    # {minute: 30} → hourly at :30:00; {hour: 2} → daily at 02:00:00 (st2-format §5.1)
    assert next_fires(CRON, {"minute": 30}, 2) == [
        NOW.replace(minute=30),
        NOW.replace(hour=13, minute=30),
    ]
    assert next_fires(CRON, {"hour": 2}, 1) == [datetime(2026, 3, 8, 2, tzinfo=UTC)]
    assert next_fires(CRON, {"day_of_week": 0, "hour": 0}, 1) == [  # 0 is Monday
        datetime(2026, 3, 9, tzinfo=UTC)
    ]
    assert next_fires(CRON, {"minute": "*/20"}, 3)[-1] == NOW + 40 * MINUTE


def test_cron_timer_follows_its_timezone_across_dst() -> None:
    parameters = {"hour": 9, "minute": 0, "timezone": "America/New_York"}
    assert next_fires(CRON, parameters, 3) == [
        datetime(2026, 3, 7, 14, tzinfo=UTC),  # EST, UTC-5
        datetime(2026, 3, 8, 13, tzinfo=UTC),  # EDT, UTC-4
        datetime(2026, 3, 9, 13, tzinfo=UTC),
    ]


def test_default_timezone_applies_when_the_rule_names_none() -> None:
    trigger = build_trigger(CRON, {"hour": 9, "minute": 0}, ZoneInfo("Europe/Paris"))
    assert trigger.get_next_fire_time(None, NOW) == datetime(2026, 3, 8, 8, tzinfo=UTC)


def test_naive_date_is_read_in_the_timer_timezone() -> None:
    trigger = build_trigger(DATE, {"date": "2026-12-31 23:59:59", "timezone": "Europe/Paris"}, UTC)
    assert trigger.get_next_fire_time(None, NOW) == datetime(2026, 12, 31, 22, 59, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ref", "parameters", "message"),
    [
        (INTERVAL, {"unit": "seconds", "delta": 5, "timezone": "Mars/Base"}, "Mars/Base"),
        (INTERVAL, {"unit": "seconds", "delta": 0}, "delta"),
        (DATE, {"date": "not a date"}, "not a date"),
        (CRON, {"minute": "*/x"}, "*/x"),
        (CRON, {"hour": 25}, "25"),
        ("core.st2.webhook", {"url": "a"}, "not a timer"),
    ],
)
def test_bad_parameters_raise_a_message_naming_them(
    ref: str, parameters: dict[str, Any], message: str
) -> None:
    with pytest.raises(TimerSpecError, match=message.replace("*", r"\*")):
        build_trigger(ref, parameters, UTC)


def test_pick_fire_coalesces_to_the_latest_tick_within_grace() -> None:
    ticks = [NOW - 3 * MINUTE, NOW - 2 * MINUTE, NOW - MINUTE]
    assert pick_fire(ticks, NOW, timedelta(seconds=90)) == NOW - MINUTE
    assert pick_fire(ticks, NOW, timedelta(seconds=30)) is None
    assert pick_fire([], NOW, timedelta(seconds=30)) is None


def test_latest_missed_fire_looks_back_only_within_grace() -> None:
    hourly = build_trigger(CRON, {"minute": 0}, UTC)
    later = NOW + timedelta(seconds=20)
    assert latest_missed_fire(hourly, later, MINUTE) == NOW
    assert latest_missed_fire(hourly, NOW + 2 * MINUTE, MINUTE) is None
    every_second = build_trigger(CRON, {"second": "*"}, UTC)
    assert latest_missed_fire(every_second, later, MINUTE) == later


def test_interval_ticks_are_anchored_so_restarts_agree_on_them() -> None:
    interval = build_trigger(INTERVAL, {"unit": "minutes", "delta": 7}, UTC)
    again = build_trigger(INTERVAL, {"unit": "minutes", "delta": 7}, UTC)
    first = interval.get_next_fire_time(None, NOW)
    assert first == again.get_next_fire_time(None, NOW + MINUTE) == NOW + 4 * MINUTE
    assert latest_missed_fire(interval, NOW, 5 * MINUTE) == NOW - 3 * MINUTE


def test_latest_missed_fire_never_owes_an_old_date() -> None:
    old = build_trigger(DATE, {"date": "2020-01-01"}, UTC)
    assert latest_missed_fire(old, NOW, MINUTE) is None
    recent = build_trigger(DATE, {"date": "2026-03-07 11:59:30"}, UTC)
    assert latest_missed_fire(recent, NOW, MINUTE) == NOW - timedelta(seconds=30)


def test_dedupe_key_names_the_timer_and_the_utc_tick() -> None:
    key = trigger_key(CRON, {"minute": 0})
    paris_noon = datetime(2026, 3, 7, 13, tzinfo=ZoneInfo("Europe/Paris"))
    assert fire_dedupe_key(key, paris_noon) == fire_dedupe_key(key, NOW)
    assert fire_dedupe_key(key, NOW).endswith(":2026-03-07T12:00:00+00:00")
    assert fire_dedupe_key(key, NOW) != fire_dedupe_key(trigger_key(CRON, {"minute": 1}), NOW)
    assert fire_dedupe_key(key, NOW) != fire_dedupe_key(key, NOW + MINUTE)


def test_payload_is_st2s() -> None:
    assert timer_payload(NOW + timedelta(microseconds=123456)) == {
        "executed_at": "2026-03-07 12:00:00.123456+00:00",
        "schedule": None,
    }
    paris = datetime(2026, 3, 7, 13, tzinfo=ZoneInfo("Europe/Paris"))
    assert timer_payload(paris)["executed_at"] == "2026-03-07 12:00:00+00:00"

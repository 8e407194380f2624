"""Timer trigger parameters → APScheduler 3.x triggers, and the firing policy (st2-format §5.1).

Pure: no scheduler, no store, no clock of its own. Callers pass ``now`` so tests can move time.
APScheduler and dateutil (~2.5 MB resident with what they import) load with the first timer
rule, so a deployment without timer rules never imports them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.rules.index import TriggerKey
from core.triggers.builtin import CRON_TIMER, DATE_TIMER, INTERVAL_TIMER

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger
    from apscheduler.triggers.date import DateTrigger
    from apscheduler.triggers.interval import IntervalTrigger

__all__ = [
    "INTERVAL_ANCHOR",
    "MAX_LOOKBACK_TICKS",
    "TimerSpecError",
    "build_trigger",
    "fire_dedupe_key",
    "latest_missed_fire",
    "pick_fire",
    "resolve_timezone",
    "timer_payload",
]

# Bounds the walk over missed ticks of a very frequent timer (1 s ticks, long grace).
MAX_LOOKBACK_TICKS = 10_000
# Interval ticks are multiples of the delta from this instant (a Monday, so weekly timers fire on
# Mondays), not from when a process started: every process and every restart then agrees on the
# ticks, which the dedupe key and the missed-tick policy need.
INTERVAL_ANCHOR = datetime(2000, 1, 3, tzinfo=UTC)


class TimerSpecError(ValueError):
    """Timer parameters APScheduler cannot schedule (bad timezone, date or cron expression)."""


def resolve_timezone(name: str | None, default: tzinfo) -> tzinfo:
    if name is None:
        return default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TimerSpecError(f"timezone: unknown timezone {name!r}") from exc


def build_trigger(
    trigger_ref: str, parameters: Mapping[str, Any], default_timezone: tzinfo
) -> BaseTrigger:
    """The APScheduler trigger for one timer, as st2's timer engine builds it."""
    timezone = resolve_timezone(parameters.get("timezone"), default_timezone)
    try:
        if trigger_ref == INTERVAL_TIMER:
            return _interval(parameters, timezone)
        if trigger_ref == DATE_TIMER:
            return _date(parameters, timezone)
        if trigger_ref == CRON_TIMER:
            from apscheduler.triggers.cron import CronTrigger

            fields = {k: v for k, v in parameters.items() if k != "timezone"}
            return CronTrigger(timezone=timezone, **fields)
    except TimerSpecError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        raise TimerSpecError(str(exc)) from exc
    raise TimerSpecError(f"{trigger_ref} is not a timer trigger type")


def _interval(parameters: Mapping[str, Any], timezone: tzinfo) -> IntervalTrigger:
    from apscheduler.triggers.interval import IntervalTrigger

    unit, delta = parameters.get("unit"), parameters.get("delta")
    if not isinstance(delta, int) or isinstance(delta, bool) or delta <= 0:
        # APScheduler would accept 0 and spin; st2's schema only says "integer".
        raise TimerSpecError(f"delta: expected a positive integer, got {delta!r}")
    return IntervalTrigger(timezone=timezone, start_date=INTERVAL_ANCHOR, **{str(unit): delta})


def _date(parameters: Mapping[str, Any], timezone: tzinfo) -> DateTrigger:
    from apscheduler.triggers.date import DateTrigger
    from dateutil import parser as date_parser

    raw = parameters.get("date")
    try:
        when = date_parser.parse(str(raw))
    except (ValueError, OverflowError) as exc:
        raise TimerSpecError(f"date: cannot parse {raw!r}") from exc
    # A naive date is in the timer's timezone (APScheduler localizes it the same way).
    return DateTrigger(run_date=when, timezone=timezone)


def latest_missed_fire(trigger: BaseTrigger, now: datetime, grace: timedelta) -> datetime | None:
    """The last tick in ``[now - grace, now]``: what a restart within the grace still owes."""
    if grace <= timedelta(0):
        return None
    since = now - grace
    tick = trigger.get_next_fire_time(None, since)
    latest = None
    for _ in range(MAX_LOOKBACK_TICKS):
        if tick is None or tick > now:
            break
        if tick >= since:  # a DateTrigger returns its date however old it is
            latest = tick
        tick = trigger.get_next_fire_time(tick, tick + timedelta(microseconds=1))
    return latest


def pick_fire(run_times: list[datetime], now: datetime, grace: timedelta) -> datetime | None:
    """Coalesce due ticks into at most one fire: the latest, if it is not older than ``grace``.

    The policy for missed fires (downtime, a blocked loop): never a burst of catch-up fires.
    """
    if not run_times:
        return None
    latest = max(run_times)
    return latest if now - latest <= grace else None


def fire_dedupe_key(key: TriggerKey, fire_time: datetime) -> str:
    """One stored instance per (timer, tick), whichever process or restart fires it."""
    digest = hashlib.sha256(key[1].encode()).hexdigest()[:16]
    return f"timer:{digest}:{fire_time.astimezone(UTC).isoformat()}"


def timer_payload(now: datetime) -> dict[str, Any]:
    """st2's payload: ``executed_at`` is ``str()`` of the aware UTC fire time; ``schedule`` is
    st2's ``parameters.get("time")``, which no timer type declares, so always null."""
    return {"executed_at": str(now.astimezone(UTC)), "schedule": None}

"""Issue 18's goals against what this ``make bench`` run measured, each beside its baseline
from the same run (raw SQLite inserts, linear rule evaluation, raw spawns, Orquesta)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Rows = Mapping[str, list[dict[str, Any]]]
# bench.memory's rows (a real ``squall serve`` process).
ALONE_IDLE = "squall serve idle, no chat"
CHAT_IDLE = "squall serve idle, discord + slack connected (fakes)"
SPAWN_CEILING = "spawn ceiling: posix_spawn bash -c true, no event loop"  # bench.executions
LOADED_SERVE = "squall serve, 1000 webhook events/s offered for 3 s, chat connected"


def _find(rows: Rows, suite: str, **match: Any) -> dict[str, Any] | None:
    for row in rows.get(suite, []):
        if _is(row, match):
            return row
    return None


def _is(row: Mapping[str, Any], match: Mapping[str, Any]) -> bool:
    return all(row.get(k) == v for k, v in match.items())


def _value(rows: Rows, suite: str, column: str, **match: Any) -> Any:
    row = _find(rows, suite, **match)
    return None if row is None else row.get(column)


def _goal(
    path: str, goal: str, measured: Any, holds: Callable[[Any], bool], baseline: str
) -> dict[str, Any]:
    verdict = "not measured" if measured is None else ("yes" if holds(measured) else "no")
    return {"path": path, "goal": goal, "measured": measured, "holds": verdict,
            "baseline (same run)": baseline}  # fmt: skip


def _seconds(rows: Rows, label: str, tasks: int) -> float | None:
    rate = _value(rows, "bench.workflows", "squall end to end tasks/s", workflow=label)
    return round(tasks / rate, 2) if isinstance(rate, int | float) and rate else None


def goals(rows: Rows) -> list[dict[str, Any]]:
    hook = "bench.webhooks"
    raw_name = "sqlite raw sqlite3 insert, 256 per transaction (baseline)"
    raw_insert = _value(rows, "bench.store", "ops_per_sec", benchmark=raw_name)
    path = {"benchmark": "webhook → rule → core.noop"}
    saturating = max((r["offered_per_sec"] for r in rows.get(hook, []) if _is(r, path)), default=0)
    ceiling = _value(rows, hook, "one_core_ceiling_per_sec", offered_per_sec=saturating, **path)
    at_goal = _find(rows, hook, offered_per_sec=2500, **path)
    kept_pace = (
        "not measured"
        if at_goal is None
        else f"at 2,500/s offered {at_goal['completed_per_sec']}/s completed, p99 "
        f"{at_goal['e2e_ms_p99']} ms"
    )
    floor = _find(rows, hook, benchmark="floor: aiohttp alone, 202 without storing (baseline)")
    aiohttp_alone = (
        "not measured"
        if floor is None
        else (
            f"{floor['completed_per_sec']}/s answered, {floor['cpu_us_per_event']} µs CPU per "
            f"request; the load generator {floor['generator_cpu_us_per_post']} µs per POST"
        )
    )
    table = [
        _goal(f"webhook → rule → core.noop, sustained (completed/s with {saturating:,}/s "
              "offered, above the goal: its capacity)", "≥ 2,500 events/s",
              _value(rows, hook, "completed_per_sec", offered_per_sec=saturating, **path),
              lambda v: v >= 2500,
              f"{kept_pace}; raw SQLite batched inserts {raw_insert}/s; CPU ceiling of one "
              f"core at this run's cost per event {ceiling}/s; aiohttp alone at 2,500/s "
              f"offered: {aiohttp_alone}"),
        _goal("webhook p99 at 1,000/s offered", "≤ 25 ms",
              _value(rows, hook, "e2e_ms_p99", offered_per_sec=1000, **path), lambda v: v <= 25,
              "—"),
        _goal("webhook p50 at 100/s offered", "≤ 1.5 ms",
              _value(rows, hook, "e2e_ms_p50", offered_per_sec=100, **path), lambda v: v <= 1.5,
              "—"),
    ]  # fmt: skip
    for kind in ("equals", "mixed"):
        linear = _value(rows, "bench.rules", "linear_ms_per_event",
                        benchmark=f"match {kind} criteria", rules=10_000)  # fmt: skip
        table.append(_goal(
            f"10,000 rules on one trigger, {kind} criteria", "≤ 1 ms per event",
            _value(rows, "bench.rules", "indexed_ms_per_event",
                   benchmark=f"match {kind} criteria", rules=10_000),
            lambda v: v <= 1, f"every rule evaluated: {linear} ms"))  # fmt: skip
    for label, tasks, limit in (("chain 1000", 1000, 0.5), ("with-items 5000", 5000, 2.5),
                                ("fan-out/in 1000", 1002, 0.5)):  # fmt: skip
        orquesta = _value(rows, "bench.workflows", "orquesta persisted tasks/s", workflow=label)
        table.append(_goal(f"workflow {label}, end to end (s)", f"≤ {limit} s",
                           _seconds(rows, label, tasks), lambda v, limit=limit: v <= limit,
                           f"Orquesta persisted: {orquesta} tasks/s"))  # fmt: skip
    mem = "bench.memory"
    local = _find(rows, "bench.executions", benchmark="execute core.local cmd=true", concurrency=32)
    raw_row = _find(rows, "bench.executions", benchmark="raw spawn bash -c true (baseline)",
                    concurrency=32) or {}  # fmt: skip
    raw = raw_row.get("executions_per_sec")
    ceiling = _value(rows, "bench.executions", "executions_per_sec", benchmark=SPAWN_CEILING)
    cpu = (local or {}).get("cpu_us_per_execution"), raw_row.get("cpu_us_per_execution")
    table += [
        _goal("core.local cmd=true, 32 at once", "≥ 800/s",
              local and local["executions_per_sec"], lambda v: v >= 800,
              f"raw bash -c true spawns {raw}/s; this machine's spawn ceiling (posix_spawn in a "
              f"plain loop) {ceiling}/s"),
        _goal("core.local vs raw spawn, same run", "≥ 0.7 x raw",
              local and local.get("vs_raw_spawn"), lambda v: v >= 0.7,
              f"raw bash -c true spawns {raw}/s; CPU per run in this process: core.local "
              f"{cpu[0]} µs, raw spawn {cpu[1]} µs"),
        _goal("RSS at 1,000 webhook events/s", "≤ 200 MB",
              _value(rows, mem, "rss_mb_peak", benchmark=LOADED_SERVE), lambda v: v <= 200,
              f"the same serve idle: {_value(rows, mem, 'rss_mb', benchmark=CHAT_IDLE)} MB; "
              f"bench process after bench.webhooks: "
              f"{_value(rows, hook, 'rss_mb', offered_per_sec=1000, **path)} MB"),
        _goal("RSS idle, Slack and Discord connected", "≤ 80 MB",
              _value(rows, mem, "rss_mb", benchmark=CHAT_IDLE), lambda v: v <= 80,
              f"squall serve idle without chat: "
              f"{_value(rows, mem, 'rss_mb', benchmark=ALONE_IDLE)} MB"),
    ]  # fmt: skip
    return table

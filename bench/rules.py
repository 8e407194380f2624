"""Rule matching time per trigger instance with 10, 1,000 and 10,000 rules on one trigger.

Pure CPU through ``core.rules`` (no store, no engine): every rule listens to the same webhook,
all but the last have criteria that do not match. Measured twice in the same run: ``linear``
evaluates every rule (``match_rules``, the baseline), ``indexed`` asks the criteria index
(core.rules.selective) for candidates and evaluates only those (``matched_rules``, what the
dispatcher does). The mixed case alternates ``equals``, ``regex`` (RE2) and ``env equals prod
+ message contains`` criteria on three keys.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.models import Rule
from core.models.trigger import RuleAction, RuleTrigger
from core.rules.index import WEBHOOK_TRIGGER, RuleIndex
from core.rules.matcher import match_rules, matched_rules
from core.triggers.dispatcher import evaluate_in_slices

RULE_COUNTS = (10, 1_000, 10_000)
EVALUATIONS = 20_000  # rule evaluations per round (instances = this / rules, at least 5)
ROUNDS = 3  # the fastest round is reported: the others measured a busy machine
TRIGGER = RuleTrigger(WEBHOOK_TRIGGER, {"url": "bench"})
PAYLOAD = {"body": {"service": "checkout", "env": "prod", "message": "disk full on db-7"}}


def _criteria(i: int, kind: str) -> dict[str, Any]:
    if kind == "equals" or i % 3 == 0:
        return {"trigger.body.service": {"type": "equals", "pattern": f"svc-{i}"}}
    if i % 3 == 1:
        return {"trigger.body.message": {"type": "regex", "pattern": f"^alert-{i}: .*$"}}
    return {
        "trigger.body.env": {"type": "equals", "pattern": "prod"},
        "trigger.body.message": {"type": "contains", "pattern": f"host-{i}"},
    }


def build_rules(count: int, kind: str) -> list[Rule]:
    rules = [
        Rule(
            "bench", f"miss{i}", TRIGGER, RuleAction("core.noop"), _criteria(i, kind), enabled=True
        )
        for i in range(count - 1)
    ]
    hit = {"trigger.body.service": {"type": "equals", "pattern": "checkout"}}
    rules.append(Rule("bench", "hit", TRIGGER, RuleAction("core.noop"), hit, enabled=True))
    return rules


def measure(count: int, kind: str) -> dict[str, Any]:
    started = time.perf_counter()
    index = RuleIndex(build_rules(count, kind))
    build_ms = (time.perf_counter() - started) * 1000
    now = datetime.now(UTC)
    instances = max(5, EVALUATIONS // count)
    matches = match_rules(index, WEBHOOK_TRIGGER, TRIGGER.parameters, PAYLOAD, now=now)  # warm
    indexed = matched_rules(index, WEBHOOK_TRIGGER, TRIGGER.parameters, PAYLOAD, now=now)
    if [m.rule.name for m in matches if m.matched] != ["hit"] or [r.name for r in indexed] != [
        "hit"
    ]:
        raise RuntimeError("the benchmark rules did not match as designed")
    linear = min(_timed(index, instances, now, _linear) for _ in range(ROUNDS)) / instances
    fast = min(_timed(index, instances * 20, now, _indexed) for _ in range(ROUNDS))
    fast /= instances * 20
    return {
        "benchmark": f"match {kind} criteria",
        "rules": count,
        "linear_ms_per_event": round(linear * 1000, 3),
        "indexed_ms_per_event": round(fast * 1000, 4),
        "speedup": round(linear / fast, 1),
        "indexed_events_per_sec": round(1 / fast, 1),
        "index_build_ms": round(build_ms, 1),
    }


def _linear(index: RuleIndex, now: datetime) -> None:
    match_rules(index, WEBHOOK_TRIGGER, TRIGGER.parameters, PAYLOAD, now=now)


def _indexed(index: RuleIndex, now: datetime) -> None:
    matched_rules(index, WEBHOOK_TRIGGER, TRIGGER.parameters, PAYLOAD, now=now)


def _timed(
    index: RuleIndex, instances: int, now: datetime, match: Callable[[RuleIndex, datetime], None]
) -> float:
    start = time.perf_counter()
    for _ in range(instances):
        match(index, now)
    return time.perf_counter() - start


async def loop_stall(count: int = 10_000) -> dict[str, Any]:
    """The worst case for the loop: ``count`` rules no structure can index (``lessthan``), all
    candidates, evaluated as the dispatcher does (``evaluate_in_slices``: slices of
    EVALUATION_SLICE). A ticker task records the gaps the loop went without it."""
    rules = [
        Rule("bench", f"lt{i}", TRIGGER, RuleAction("core.noop"),
             {"trigger.body.n": {"type": "lessthan", "pattern": -i}}, enabled=True)
        for i in range(count)
    ]  # fmt: skip
    group = RuleIndex(rules).candidates(WEBHOOK_TRIGGER, TRIGGER.parameters)
    payload = {"body": {"n": 0}}
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    start = time.perf_counter()
    matched = await evaluate_in_slices(
        group.standard, group.standard_index, payload, None, datetime.now(UTC)
    )
    total = time.perf_counter() - start
    done.set()
    await tick
    if matched:
        raise RuntimeError("the stall benchmark rules matched")
    return {
        "benchmark": f"{count} unindexable rules, evaluated in slices",
        "rules": count,
        "event_ms": round(total * 1000, 1),
        "longest_loop_stall_ms": round(max(gaps) * 1000, 2),
        # The OS deschedules the whole process now and then on a loaded machine (the longest
        # gap); the median gap is one slice.
        "median_loop_stall_ms": round(sorted(gaps)[len(gaps) // 2] * 1000, 2),
        "loop_turns": len(gaps),
    }


async def run(workdir: Path) -> list[dict[str, Any]]:
    rows = [measure(count, kind) for kind in ("equals", "mixed") for count in RULE_COUNTS]
    return [*rows, await loop_stall()]


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(Path("."))), indent=2))
    sys.exit(0)

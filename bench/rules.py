"""Rule matching time per trigger instance with 10, 1,000 and 10,000 rules on one trigger.

Pure CPU through ``core.rules`` (no store, no engine): every rule listens to the same webhook,
all but the last have criteria that do not match, so each instance evaluates every rule. The
mixed case alternates ``equals``, ``regex`` (RE2) and ``contains`` criteria on two keys.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.models import Rule
from core.models.trigger import RuleAction, RuleTrigger
from core.rules.index import WEBHOOK_TRIGGER, RuleIndex
from core.rules.matcher import match_rules

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
    index = RuleIndex(build_rules(count, kind))
    now = datetime.now(UTC)
    instances = max(5, EVALUATIONS // count)
    matches = match_rules(index, WEBHOOK_TRIGGER, TRIGGER.parameters, PAYLOAD, now=now)  # warm
    if [m.rule.name for m in matches if m.matched] != ["hit"]:
        raise RuntimeError("the benchmark rules did not match as designed")
    elapsed = min(_timed(index, instances, now) for _ in range(ROUNDS))
    per_instance = elapsed / instances
    return {
        "benchmark": f"match {kind} criteria",
        "rules": count,
        "instances": instances,
        "ms_per_instance": round(per_instance * 1000, 3),
        "us_per_rule": round(per_instance / count * 1e6, 2),
        "instances_per_sec": round(1 / per_instance, 1),
    }


def _timed(index: RuleIndex, instances: int, now: datetime) -> float:
    start = time.perf_counter()
    for _ in range(instances):
        match_rules(index, WEBHOOK_TRIGGER, TRIGGER.parameters, PAYLOAD, now=now)
    return time.perf_counter() - start


async def run(workdir: Path) -> list[dict[str, Any]]:
    return [measure(count, kind) for kind in ("equals", "mixed") for count in RULE_COUNTS]


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(Path("."))), indent=2))
    sys.exit(0)

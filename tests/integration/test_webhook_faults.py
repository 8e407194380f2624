"""kill -9 at every durable step from a webhook's 202 to its executions' end, then restart:
every 202'd instance yields exactly one execution per matching rule (issue 16 §3).

``core.executions.faults`` counts the points a ``squall serve`` passes (instance stored, evaluated,
settled — enforcements and execution requests written together — and every execution status
change). One clean run counts them; then, for every N, a fresh site and a serve that SIGKILLs
itself at point N while two webhooks are posted, followed by a plain serve that must finish
everything. Two rules match each delivery and a third never does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT
from tests.integration.test_webhook_kill9 import FINISHED, Site, healthy, make_site, post

RULE = (
    "name: {name}\npack: site\nenabled: true\n"
    "trigger: {{type: core.st2.webhook, parameters: {{url: hook}}}}\n"
    "criteria: {{trigger.body.kind: {{type: equals, pattern: {kind}}}}}\n"
    "action: {{ref: core.noop}}\n"
)
PACK = {
    "pack.yaml": "ref: site\nname: site\ndescription: faults\nversion: 0.1.0\nauthor: tests\n",
    "rules/first.yaml": RULE.format(name="first", kind="deploy"),
    "rules/second.yaml": RULE.format(name="second", kind="deploy"),
    "rules/never.yaml": RULE.format(name="never", kind="other"),
}
MATCHING = ["site.first", "site.second"]
DELIVERIES = 2


@dataclass(frozen=True)
class Outcome:
    point: int
    killed_at: str
    accepted: list[int]  # delivery numbers that got their 202
    instances: dict[int, str]  # delivery number → stored instance status
    fired: Counter[tuple[int, str]]  # (delivery, rule) → executions
    statuses: dict[str, str]  # execution id → status
    enforcements: Counter[tuple[int, str]]
    running_at_kill: set[str]  # execution ids the store had ``running`` at the kill


def start(site: Site, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with site.log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--no-console", "--config", str(site.config)],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, **env},
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while not healthy(site, proc):
        assert time.monotonic() < deadline, f"serve never answered:\n{site.log.read_text()}"
        time.sleep(0.05)
    return proc


def settled(site: Site) -> bool:
    instances = site.rows("select status from trigger_instances")
    executions = site.rows("select status from executions")
    return all(s == "processed" for (s,) in instances) and all(s in FINISHED for (s,) in executions)


def wait(site: Site, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Until the serve died (killed at its point) or everything it took has finished."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and not settled(site):
        assert time.monotonic() < deadline, f"never settled:\n{site.log.read_text()}"
        time.sleep(0.05)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
    proc.wait(timeout=30)


def deliver(site: Site, proc: subprocess.Popen[bytes]) -> list[int]:
    accepted = []
    for n in range(DELIVERIES):
        if proc.poll() is not None:
            break
        try:
            post(site, "hook", {"kind": "deploy", "n": n})
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            break  # killed while answering: this delivery was not acknowledged
        accepted.append(n)
    return accepted


def attempt(base: Path, point: int) -> Outcome:
    site = make_site(base / f"kill-{point}", PACK, ["hook"])
    faults = site.config.parent / "faults.log"
    first = start(site, {"SQUALL_FAULT_KILL_AT": str(point), "SQUALL_FAULT_LOG": str(faults)})
    try:
        accepted = deliver(site, first)
        wait(site, first)
    finally:
        stop(first)
    passed = faults.read_text().splitlines() if faults.exists() else []
    killed_at = passed[-1].split(" ", 1)[1] if first.returncode == -9 else ""
    running = {str(i) for (i,) in site.rows("select id from executions where status = 'running'")}
    second = start(site, {})
    try:
        wait(site, second)
    finally:
        stop(second)
    return observe(site, point, killed_at, accepted, running)


def observe(
    site: Site, point: int, killed_at: str, accepted: list[int], running: set[str]
) -> Outcome:
    delivery = {
        i: int(n)
        for i, n in site.rows(
            "select id, json_extract(doc, '$.payload.body.n') from trigger_instances"
        )
    }
    instances = {
        delivery[i]: str(s) for i, s in site.rows("select id, status from trigger_instances")
    }
    rows = site.rows(
        "select id, status, json_extract(doc, '$.context.trigger_instance.id'),"
        " json_extract(doc, '$.context.rule.ref') from executions"
    )
    fired = Counter((delivery[str(i)], str(r)) for _, _, i, r in rows)
    enforced = site.rows(
        "select trigger_instance_id, rule_ref, execution_id from rule_enforcements"
    )
    assert all(e is not None for *_, e in enforced), enforced  # every enforcement has its run
    enforcements = Counter((delivery[str(i)], str(r)) for i, r, _ in enforced)
    statuses = {str(i): str(s) for i, s, *_ in rows}
    return Outcome(point, killed_at, accepted, instances, fired, statuses, enforcements, running)


def count_points(base: Path) -> list[str]:
    site = make_site(base / "clean", PACK, ["hook"])
    faults = site.config.parent / "faults.log"
    proc = start(site, {"SQUALL_FAULT_LOG": str(faults)})
    try:
        assert deliver(site, proc) == list(range(DELIVERIES))
        wait(site, proc)
    finally:
        stop(proc)
    outcome = observe(site, 0, "", list(range(DELIVERIES)), set())
    assert set(outcome.statuses.values()) == {"succeeded"}
    return [line.split(" ", 1)[1] for line in faults.read_text().splitlines()]


def test_kill_9_at_every_step_after_202_yields_exactly_one_execution_per_rule(
    tmp_path: Path,
) -> None:
    points = count_points(tmp_path)
    assert sum(p.startswith("trigger instance settled") for p in points) == DELIVERIES
    assert sum("core.noop succeeded" in p for p in points) == DELIVERIES * len(MATCHING)
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda n: attempt(tmp_path, n), range(1, len(points) + 2)))
    for outcome in outcomes:
        where = f"killed at point {outcome.point} ({outcome.killed_at or 'not killed'})"
        assert outcome.killed_at or outcome.point > len(points), where
        # Every acknowledged delivery is stored; whatever is stored is processed exactly once.
        assert set(outcome.accepted) <= set(outcome.instances), where
        assert set(outcome.instances.values()) <= {"processed"}, where
        expected = Counter({(n, rule): 1 for n in outcome.instances for rule in MATCHING})
        assert outcome.fired == expected, where
        assert outcome.enforcements == expected, where
        # Finished; ``abandoned`` exactly when it was running at the kill (it may have run:
        # Squall never runs it again).
        abandoned = {i for i, s in outcome.statuses.items() if s == "abandoned"}
        assert abandoned == outcome.running_at_kill, where
        assert set(outcome.statuses.values()) <= {"succeeded", "abandoned"}, where

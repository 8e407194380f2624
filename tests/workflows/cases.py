"""Conformance cases: Orquesta's fixture workflows with inputs and mocked action results, plus
workflows of Squall's own (tests/fixtures/workflows). Each case runs through Squall's conductor
and through Orquesta (the oracle) and must give the same task sequence, status and output.

Mocks follow st2-format §10.11; a mock list gives the n-th run of a task its result.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ORQUESTA_FIXTURES = ROOT.parent / "shared" / "conformance" / "orquesta-fixtures"
OWN_FIXTURES = ROOT / "tests" / "fixtures" / "workflows"
RECORDED = Path(__file__).resolve().parent / "orquesta_results.json"  # by tests/oracle/record.py

OK = {"status": "succeeded", "result": None}
FAIL = {"status": "failed", "result": None}


def ok(result: Any) -> dict[str, Any]:
    return {"status": "succeeded", "result": result}


def times(mock: dict[str, Any], n: int) -> list[dict[str, Any]]:
    return [mock] * n


# (fixture, name, inputs, mocks, items)
ORQUESTA_CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ("sequential.yaml", "ok", {"name": "Stanley"},
     {"task1": [ok("Stanley")], "task2": [ok("All your base are belong to us!")],
      "task3": [ok("Stanley, All your base are belong to us!")]}, {}),
    ("parallel.yaml", "ok", {}, {}, {}),
    ("branching.yaml", "ok", {}, {}, {}),
    ("decision.yaml", "a", {"which": "a"}, {}, {}),
    ("decision.yaml", "b", {"which": "b"}, {}, {}),
    ("decision.yaml", "z", {"which": "z"}, {}, {}),
    ("cycle.yaml", "ok", {}, {}, {}),
    ("cycles.yaml", "ok", {}, {}, {}),
    ("cycle-retry.yaml", "fails twice", {}, {"task1": [FAIL, FAIL, OK]}, {}),
    ("cycle-fork.yaml", "two rounds", {},
     {"query": [ok(True), ok(False)]}, {}),
    ("rollback-retry.yaml", "check fails once", {}, {"check": [FAIL, OK]}, {}),
    ("error-handling.yaml", "task1 fails", {}, {"task1": [FAIL]}, {}),
    ("error-handling.yaml", "ok", {}, {}, {}),
    ("error-handling-continue.yaml", "ok", {}, {}, {}),
    ("error-handling-continue.yaml", "task1 fails", {}, {"task1": [FAIL]}, {}),
    ("error-handling-noop.yaml", "task1 fails", {}, {"task1": [FAIL]}, {}),
    ("error-handling-noop.yaml", "ok", {}, {}, {}),
    ("error-handling-fail.yaml", "task1 fails", {}, {"task1": [FAIL]}, {}),
    ("error-handling-fail.yaml", "ok", {}, {}, {}),
    ("error-log-fail.yaml", "task1 fails", {}, {"task1": [FAIL]}, {}),
    ("error-log-fail-concurrent.yaml", "task1 fails", {}, {"task1": [FAIL]}, {}),
    ("task-on-complete.yaml", "ok", {}, {}, {}),
    ("task-on-complete.yaml", "task1 fails", {}, {"task1": [FAIL]}, {}),
    ("task-transitions-split.yaml", "ok", {}, {}, {}),
    ("task-transitions-split.yaml", "task1 fails", {}, {"task1": [FAIL]}, {}),
    ("task-duplicate-transition.yaml", "ok", {}, {}, {}),
    ("task-duplicate-when.yaml", "ok", {}, {}, {}),
    ("join.yaml", "ok", {}, {}, {}),
    ("join.yaml", "task3 fails", {}, {"task3": [FAIL]}, {}),
    ("join-count.yaml", "ok", {}, {}, {}),
    ("join-count.yaml", "task6 fails", {}, {"task6": [FAIL]}, {}),
    ("join-count.yaml", "unsatisfiable", {}, {"task5": [FAIL], "task7": [FAIL]}, {}),
    ("join-count-complex.yaml", "ok", {}, {}, {}),
    ("join-context.yaml", "merge", {},
     {"task2": [ok("Fee fi")], "task4": [ok("I smell the blood of an English man")],
      "task3": [ok("fo fum")], "task7": [ok("Be alive, or be he dead")]}, {}),
    ("join-on-complete.yaml", "task3 fails", {}, {"task3": [FAIL]}, {}),
    ("join-on-fail.yaml", "both fail", {}, {"task3": [FAIL], "task5": [FAIL]}, {}),
    ("join-on-fail.yaml", "one fails", {}, {"task3": [FAIL]}, {}),
    ("join-all-complex.yaml", "task3 fails", {}, {"task3": [FAIL]}, {}),
    ("join-all-complex.yaml", "ok", {}, {}, {}),
    ("split.yaml", "ok", {}, {}, {}),
    ("splits.yaml", "ok", {}, {}, {}),
    ("splits-mixed.yaml", "ok", {}, {}, {}),
    ("splits-nested.yaml", "ok", {}, {}, {}),
    ("splits-transition.yaml", "ok", {}, {}, {}),
    ("splits-very-many.yaml", "defaults", {}, {}, {}),
    ("task-retry-spec.yaml", "fails once", {}, {"task1": [FAIL, OK]}, {}),
    ("task-retry-spec.yaml", "always fails", {}, {"task1": times(FAIL, 5)}, {}),
    ("task-retry-command.yaml", "fails once", {}, {"task1": [FAIL, OK]}, {}),
    ("task-retry-command.yaml", "always fails", {}, {"task1": times(FAIL, 5)}, {}),
    ("task-retry-command-default-when.yaml", "fails once", {}, {"task1": [FAIL, OK]}, {}),
    ("with-items.yaml", "three", {"members": ["Lakshmi", "Lindsay", "Tomaz"]}, {},
     {"task1": {str(i): ok(f"{m}, resistance is futile!")
                for i, m in enumerate(["Lakshmi", "Lindsay", "Tomaz"])}}),
    ("with-items.yaml", "empty", {"members": []}, {}, {}),
    ("with-items-concurrency.yaml", "two at a time", {"members": ["a", "b", "c"]}, {},
     {"task1": {"0": ok("a"), "1": ok("b"), "2": ok("c")}}),
    ("with-items-transition.yaml", "ok", {}, {},
     {"task1": {"0": ok("fee"), "1": ok("fi"), "2": ok("fo"), "3": ok("fum")}}),
    ("with-items-transition.yaml", "item fails", {}, {},
     {"task1": {"0": ok("fee"), "1": ok("fi"), "2": FAIL, "3": ok("fum")}}),
    ("with-items-remediate.yaml", "item fails", {}, {},
     {"task1": {"0": ok("fee"), "1": ok("fi"), "2": FAIL}}),
    ("with-items-parallel.yaml", "ok", {}, {}, {}),
    ("with-multi-items.yaml", "invalid", {"members": ["a"], "messages": ["b"]}, {}, {}),
    ("with-multi-items-concurrency.yaml", "invalid", {"members": ["a"], "messages": ["b"]}, {}, {}),
]  # fmt: skip


def recorded_results() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = json.loads(RECORDED.read_text())
    return found


def orquesta_cases() -> list[dict[str, Any]]:
    """The cases above whose fixture exists (the shared folder may be absent)."""
    cases = []
    for fixture, name, inputs, mocks, items in ORQUESTA_CASES:
        path = ORQUESTA_FIXTURES / fixture
        if path.is_file():
            cases.append({"id": f"{fixture}:{name}", "workflow": path.read_text(),
                          "inputs": inputs, "mocks": mocks, "items": items})  # fmt: skip
    return cases


def res(**values: Any) -> dict[str, Any]:
    return ok(values)


# (fixture in tests/fixtures/workflows, name, inputs, mocks, items)
OWN_CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ("publish-chain.yaml", "ok", {"who": "ann"},
     {"first": [ok("hello ann")], "second": [ok("said")]}, {}),
    ("publish-chain.yaml", "second fails", {"who": "bob", "count": 5},
     {"first": [ok("hello bob")], "second": [FAIL]}, {}),
    ("functions.yaml", "ok", {}, {}, {}),
    ("functions.yaml", "probe fails", {}, {"probe": [FAIL]}, {}),
    ("with-items-keys.yaml", "all succeed", {}, {},
     {"probe": {str(i): ok(f"web{i + 1}:{80 + i}") for i in range(5)}}),
    ("with-items-keys.yaml", "one fails", {}, {},
     {"probe": {"0": ok("web1:80"), "1": FAIL, "2": ok("web3:82")}}),
    ("with-items-keys.yaml", "no hosts", {"hosts": [], "ports": []}, {}, {}),
    ("retry-when.yaml", "ready on third", {},
     {"poll": [res(ready=False, attempt=1), res(ready=False, attempt=2),
               res(ready=True, attempt=3)]}, {}),
    ("retry-when.yaml", "never ready", {},
     {"poll": times(res(ready=False, attempt=0), 4)}, {}),
    ("retry-when.yaml", "fails", {}, {"poll": [FAIL]}, {}),
    ("join-publish.yaml", "ok", {}, {"left": [ok("L")], "right": [ok("R")]}, {}),
    ("join-publish.yaml", "middle fails", {}, {"middle": [FAIL]}, {}),
    ("remediate-then-fail.yaml", "deploy fails", {},
     {"deploy": [{"status": "failed", "result": {"stderr": "disk full"}}]}, {}),
    ("remediate-then-fail.yaml", "ok", {}, {}, {}),
    ("remediate-then-fail.yaml", "rollback fails too", {},
     {"deploy": [{"status": "failed", "result": {"stderr": "x"}}], "rollback": [FAIL]}, {}),
    ("bad-publish.yaml", "result has no field", {}, {"task1": [ok({"other": 1})]}, {}),
    ("bad-output.yaml", "ok", {}, {}, {}),
    ("delayed.yaml", "ok", {}, {}, {}),
    ("delayed.yaml", "fails", {}, {"later": [FAIL]}, {}),
    ("cycle-counter.yaml", "three rounds", {}, {}, {}),
    ("invalid-undefined-task.yaml", "invalid", {}, {}, {}),
    ("invalid-ctx.yaml", "invalid", {}, {}, {}),
    ("invalid-syntax.yaml", "invalid", {}, {}, {}),
]  # fmt: skip


def own_cases() -> list[dict[str, Any]]:
    cases = []
    for fixture, name, inputs, mocks, items in OWN_CASES:
        path = OWN_FIXTURES / fixture
        cases.append({"id": f"own/{fixture}:{name}", "workflow": path.read_text(),
                      "inputs": inputs, "mocks": mocks, "items": items})  # fmt: skip
    return cases

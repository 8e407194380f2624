"""Differential conformance: each case through Squall's conductor and through Orquesta 1.2.0
must give the same task sequence (task, route, status), workflow status and output.

Cases: Orquesta's own fixtures (../shared/conformance, skipped cleanly when absent), Squall's
own workflows (tests/fixtures/workflows) and hypothesis-generated workflow graphs. Orquesta's
results for the fixed cases are recorded in orquesta_results.json (tests/oracle/record.py), so
they are compared on any machine; where the oracle (Python 3.8 + orquesta) exists the recording
is checked against it and random workflows are compared live. Error messages are not compared
(Squall words some differently); whether a workflow is refused at inspection is.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from tests.oracle.oracle import SKIP_REASON, oracle_python, run_oracle
from tests.workflows.cases import orquesta_cases, own_cases, recorded_results
from tests.workflows.generated import workflow_cases
from tests.workflows.rehearsal import rehearse

needs_oracle = pytest.mark.skipif(oracle_python() is None, reason=SKIP_REASON)
RECORDED = recorded_results()


def comparable(result: dict[str, Any]) -> dict[str, Any]:
    if "invalid" in result:
        return {"invalid": True}
    shown = {k: v for k, v in result.items() if k != "errors"}
    return json.loads(json.dumps(shown))  # tuples as lists, as Orquesta's JSON has them


@pytest.mark.parametrize("case", [*orquesta_cases(), *own_cases()], ids=lambda c: c["id"])
def test_squall_conducts_like_orquesta(case: dict[str, Any]) -> None:
    assert case["id"] in RECORDED, "new case: run `.venv/bin/python -m tests.oracle.record`"
    assert comparable(rehearse(case)) == comparable(RECORDED[case["id"]])


def test_own_cases_cover_every_fixture_workflow() -> None:
    from tests.workflows.cases import OWN_FIXTURES

    used = {case["id"].split("/", 1)[1].split(":", 1)[0] for case in own_cases()}
    assert used == {path.name for path in OWN_FIXTURES.glob("*.yaml")}


@needs_oracle
def test_recorded_results_are_what_orquesta_says() -> None:
    cases = [*orquesta_cases(), *own_cases()]
    live = {case["id"]: result for case, result in zip(cases, run_oracle(cases), strict=True)}
    assert live == {key: RECORDED[key] for key in live}


@needs_oracle
@settings(max_examples=3, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(workflow_cases(count=20))
def test_generated_workflows_conduct_like_orquesta(cases: list[dict[str, Any]]) -> None:
    expected = run_oracle(cases)
    for case, oracle in zip(cases, expected, strict=True):
        if "crashed" in oracle:
            continue  # Orquesta itself cannot run it: nothing to compare
        assert comparable(rehearse(case)) == comparable(oracle), case["workflow"]

"""Trigger instance statuses and the two event models' document round trips."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from core.models import (
    INSTANCE_TRANSITIONS,
    IllegalInstanceTransition,
    RuleEnforcement,
    TriggerInstance,
    TriggerInstanceStatus,
)

T = TriggerInstanceStatus

# Written out independently of the table, so a table edit shows up here.
LEGAL = {
    (T.PENDING, T.PROCESSING),
    (T.PENDING, T.PROCESSED),
    (T.PENDING, T.PROCESSING_FAILED),
    (T.PROCESSING, T.PROCESSED),
    (T.PROCESSING, T.PROCESSING_FAILED),
}


@pytest.mark.parametrize(("current", "new"), list(itertools.product(T, T)))
def test_every_pair_is_legal_or_raises(current: T, new: T) -> None:
    assert (new in INSTANCE_TRANSITIONS[current]) == ((current, new) in LEGAL)
    if (current, new) in LEGAL:
        current.check(new)
    else:
        with pytest.raises(IllegalInstanceTransition, match=f"{current} -> {new}"):
            current.check(new)


def test_statuses_use_st2_names() -> None:
    assert [str(s) for s in T] == ["pending", "processing", "processed", "processing_failed"]


def test_new_instance_is_pending_and_logged() -> None:
    made = TriggerInstance.new("core.st2.webhook", {"body": {}}, "webhook:sample", "gh-1")
    assert made.status is T.PENDING
    assert [c.status for c in made.log] == [T.PENDING]
    assert made.log[0].timestamp == made.occurrence_time
    assert (made.source, made.dedupe_key) == ("webhook:sample", "gh-1")
    assert len(made.id) == 24


def test_transition_appends_to_the_log_and_checks_the_table() -> None:
    done = TriggerInstance.new("t", {}).transition(T.PROCESSING).transition(T.PROCESSED)
    assert done.status is T.PROCESSED
    assert [c.status for c in done.log] == [T.PENDING, T.PROCESSING, T.PROCESSED]
    with pytest.raises(IllegalInstanceTransition):
        done.transition(T.PROCESSING)


def test_instance_doc_round_trip() -> None:
    made = TriggerInstance.new("pack.t", {"a.b": [1, {"$x": None}]}, "timer:x")
    made = made.transition(T.PROCESSING)
    doc = made.to_doc()
    assert doc["status"] == "processing"
    assert doc["occurrence_time"].endswith("Z")
    assert TriggerInstance.from_doc(doc) == made


def test_instance_from_a_minimal_doc() -> None:
    doc = {"id": "i", "trigger": "t", "status": "pending"}
    doc["occurrence_time"] = "2025-01-01T00:00:00Z"
    loaded = TriggerInstance.from_doc(doc)
    assert loaded.payload == {}
    assert (loaded.source, loaded.dedupe_key, loaded.log) == ("", None, ())
    assert loaded.occurrence_time == datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="occurrence_time"):
        TriggerInstance.from_doc({**doc, "occurrence_time": None})


def test_enforcement_doc_round_trip() -> None:
    fired = RuleEnforcement.new("pack.rule", "ti1", execution_id="e1")
    failed = RuleEnforcement.new("pack.rule", "ti2", failure_reason="no such action")
    for item in (fired, failed):
        assert RuleEnforcement.from_doc(item.to_doc()) == item
    assert failed.execution_id is None
    assert fired.to_doc()["enforced_at"].endswith("Z")


def test_trigger_parameters_survive_a_round_trip() -> None:
    instance = TriggerInstance.new(
        "core.st2.webhook", {"body": {}}, "webhook:x", "d-1", {"url": "x"}
    )
    assert TriggerInstance.from_doc(instance.to_doc()).trigger_parameters == {"url": "x"}

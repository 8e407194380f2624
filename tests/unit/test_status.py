"""The status table, checked exhaustively: every (from, to) pair is legal or raises."""

from __future__ import annotations

import itertools

import pytest

from core.models import (
    CANCELABLE,
    COMPLETED,
    FAILED_GROUP,
    RUNNABLE,
    TRANSITIONS,
    Execution,
    ExecutionStatus,
    IllegalTransition,
    can_transition,
    check_transition,
)

S = ExecutionStatus

# The legal pairs written out independently of the table, so a table edit shows up here.
LEGAL = {
    (S.REQUESTED, S.SCHEDULED), (S.REQUESTED, S.RUNNING), (S.REQUESTED, S.DELAYED),
    (S.REQUESTED, S.CANCELING), (S.REQUESTED, S.CANCELED), (S.REQUESTED, S.FAILED),
    (S.DELAYED, S.REQUESTED), (S.DELAYED, S.SCHEDULED), (S.DELAYED, S.CANCELING),
    (S.DELAYED, S.CANCELED), (S.DELAYED, S.FAILED),
    (S.SCHEDULED, S.RUNNING), (S.SCHEDULED, S.REQUESTED), (S.SCHEDULED, S.CANCELING),
    (S.SCHEDULED, S.CANCELED),
    (S.SCHEDULED, S.FAILED), (S.SCHEDULED, S.TIMEOUT), (S.SCHEDULED, S.ABANDONED),
    (S.RUNNING, S.SUCCEEDED), (S.RUNNING, S.FAILED), (S.RUNNING, S.TIMEOUT),
    (S.RUNNING, S.ABANDONED), (S.RUNNING, S.CANCELING), (S.RUNNING, S.CANCELED),
    (S.RUNNING, S.PENDING), (S.RUNNING, S.PAUSING),
    (S.PENDING, S.REQUESTED), (S.PENDING, S.RUNNING), (S.PENDING, S.SUCCEEDED),
    (S.PENDING, S.FAILED),
    (S.PENDING, S.TIMEOUT), (S.PENDING, S.CANCELING), (S.PENDING, S.CANCELED),
    (S.PENDING, S.ABANDONED),
    (S.PAUSING, S.PAUSED), (S.PAUSING, S.CANCELING), (S.PAUSING, S.CANCELED),
    (S.PAUSING, S.FAILED), (S.PAUSING, S.ABANDONED),
    (S.PAUSED, S.RESUMING), (S.PAUSED, S.CANCELING), (S.PAUSED, S.CANCELED),
    (S.PAUSED, S.ABANDONED),
    (S.RESUMING, S.RUNNING), (S.RESUMING, S.CANCELING), (S.RESUMING, S.CANCELED),
    (S.RESUMING, S.FAILED), (S.RESUMING, S.ABANDONED),
    (S.CANCELING, S.CANCELED), (S.CANCELING, S.ABANDONED),
}  # fmt: skip


def test_statuses_are_stackstorms() -> None:
    assert {s.value for s in S} == {
        "requested", "scheduled", "delayed", "running", "pending", "pausing", "paused",
        "resuming", "canceling", "canceled", "succeeded", "failed", "timeout", "abandoned",
    }  # fmt: skip


def test_groups_match_stackstorm() -> None:
    assert {S.SUCCEEDED, S.FAILED, S.TIMEOUT, S.CANCELED, S.ABANDONED} == COMPLETED
    assert {S.FAILED, S.TIMEOUT, S.ABANDONED} == FAILED_GROUP
    assert {
        S.REQUESTED, S.SCHEDULED, S.DELAYED, S.RUNNING, S.PAUSING, S.PAUSED, S.RESUMING,
    } == CANCELABLE  # fmt: skip
    assert {S.REQUESTED, S.SCHEDULED, S.PAUSING, S.PAUSED, S.RESUMING} == RUNNABLE


def test_every_status_has_a_row() -> None:
    assert set(TRANSITIONS) == set(S)


@pytest.mark.parametrize(("current", "new"), list(itertools.product(S, S)))
def test_transition_pair(current: ExecutionStatus, new: ExecutionStatus) -> None:
    if (current, new) in LEGAL:
        assert can_transition(current, new)
        check_transition(current, new)
    else:
        assert not can_transition(current, new)
        with pytest.raises(IllegalTransition, match=f"{current} -> {new}"):
            check_transition(current, new)


def test_completed_statuses_are_final() -> None:
    for status in COMPLETED:
        assert not TRANSITIONS[status]


def test_execution_transition_records_log_and_end_time() -> None:
    ex = Execution.request("core.noop", "noop", {})
    running = ex.transition(S.SCHEDULED).transition(S.RUNNING)
    assert running.end_timestamp is None
    done = running.transition(S.SUCCEEDED, result={"ok": True})
    assert [c.status for c in done.log] == [S.REQUESTED, S.SCHEDULED, S.RUNNING, S.SUCCEEDED]
    assert done.end_timestamp is not None and done.elapsed_seconds is not None
    assert ex.status is S.REQUESTED  # the original value is untouched


def test_execution_illegal_transition_raises() -> None:
    ex = Execution.request("core.noop", "noop", {})
    with pytest.raises(IllegalTransition):
        ex.transition(S.SUCCEEDED)


def test_execution_doc_round_trip() -> None:
    ex = Execution.request("core.local", "local-shell-cmd", {"cmd": "true"}, {"user": "ann"})
    done = ex.transition(S.SCHEDULED).transition(S.RUNNING).transition(S.FAILED, result={"a": 1})
    assert Execution.from_doc(done.to_doc()) == done

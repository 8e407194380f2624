"""Execution statuses, their groups and the legal transitions — as data, in one place.

The names and groups are StackStorm's (st2common/constants/action.py) so pack content and
notify rules that test ``status`` keep working unchanged.
"""

from __future__ import annotations

from enum import StrEnum


class ExecutionStatus(StrEnum):
    REQUESTED = "requested"
    SCHEDULED = "scheduled"
    DELAYED = "delayed"
    RUNNING = "running"
    PENDING = "pending"
    PAUSING = "pausing"
    PAUSED = "paused"
    RESUMING = "resuming"
    CANCELING = "canceling"
    CANCELED = "canceled"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMEOUT = "timeout"
    ABANDONED = "abandoned"


S = ExecutionStatus

COMPLETED: frozenset[ExecutionStatus] = frozenset(
    {S.SUCCEEDED, S.FAILED, S.TIMEOUT, S.CANCELED, S.ABANDONED}
)
FAILED_GROUP: frozenset[ExecutionStatus] = frozenset({S.FAILED, S.TIMEOUT, S.ABANDONED})
CANCELABLE: frozenset[ExecutionStatus] = frozenset(
    {S.REQUESTED, S.SCHEDULED, S.DELAYED, S.RUNNING, S.PAUSING, S.PAUSED, S.RESUMING}
)
RUNNABLE: frozenset[ExecutionStatus] = frozenset(
    {S.REQUESTED, S.SCHEDULED, S.PAUSING, S.PAUSED, S.RESUMING}
)
# A process that dies leaves these behind; startup recovery turns them into ``abandoned``.
IN_FLIGHT: frozenset[ExecutionStatus] = frozenset(
    {S.SCHEDULED, S.RUNNING, S.CANCELING, S.PAUSING, S.RESUMING}
)

TRANSITIONS: dict[ExecutionStatus, frozenset[ExecutionStatus]] = {
    # requested → running: the process that stored it runs it at once (one write where claim,
    # scheduled and running took three; nothing could observe the steps in between).
    S.REQUESTED: frozenset({S.SCHEDULED, S.RUNNING, S.DELAYED, S.CANCELING, S.CANCELED, S.FAILED}),
    S.DELAYED: frozenset({S.REQUESTED, S.SCHEDULED, S.CANCELING, S.CANCELED, S.FAILED}),
    # scheduled → requested: startup recovery requeues what a dead process scheduled but never
    # started (its runner had not run, so running it now runs it once).
    S.SCHEDULED: frozenset(
        {S.RUNNING, S.REQUESTED, S.CANCELING, S.CANCELED, S.FAILED, S.TIMEOUT, S.ABANDONED}
    ),
    S.RUNNING: frozenset(
        {
            S.SUCCEEDED,
            S.FAILED,
            S.TIMEOUT,
            S.ABANDONED,
            S.CANCELING,
            S.CANCELED,
            S.PENDING,
            S.PAUSING,
        }
    ),
    # ``pending``: waiting for a person — an inquiry (running → pending → …), or an execution
    # held for approval from birth (pending → requested once approved).
    S.PENDING: frozenset(
        {
            S.REQUESTED,
            S.RUNNING,
            S.SUCCEEDED,
            S.FAILED,
            S.TIMEOUT,
            S.CANCELING,
            S.CANCELED,
            S.ABANDONED,
        }
    ),
    S.PAUSING: frozenset({S.PAUSED, S.CANCELING, S.CANCELED, S.FAILED, S.ABANDONED}),
    S.PAUSED: frozenset({S.RESUMING, S.CANCELING, S.CANCELED, S.ABANDONED}),
    S.RESUMING: frozenset({S.RUNNING, S.CANCELING, S.CANCELED, S.FAILED, S.ABANDONED}),
    S.CANCELING: frozenset({S.CANCELED, S.ABANDONED}),
    S.CANCELED: frozenset(),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.TIMEOUT: frozenset(),
    S.ABANDONED: frozenset(),
}


# A completed workflow may be rerun (st2 ``execution re-run --tasks``): back to ``resuming``.
# Kept apart from TRANSITIONS so nothing but an explicit rerun ever revives an execution.
RERUN_TRANSITIONS: dict[ExecutionStatus, frozenset[ExecutionStatus]] = {
    status: frozenset({S.RESUMING}) for status in (S.FAILED, S.TIMEOUT, S.CANCELED, S.ABANDONED,
                                                   S.SUCCEEDED)
}  # fmt: skip


class IllegalTransition(ValueError):
    """Raised when code asks for a status change the table does not allow."""

    def __init__(self, current: ExecutionStatus, new: ExecutionStatus) -> None:
        super().__init__(f"illegal execution status transition {current} -> {new}")
        self.current = current
        self.new = new


def can_transition(current: ExecutionStatus, new: ExecutionStatus) -> bool:
    return new in TRANSITIONS[current]


def check_transition(current: ExecutionStatus, new: ExecutionStatus) -> None:
    if not can_transition(current, new):
        raise IllegalTransition(current, new)


def check_rerun(current: ExecutionStatus) -> None:
    if S.RESUMING not in RERUN_TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(current, S.RESUMING)


def transition_path(current: ExecutionStatus, target: ExecutionStatus) -> list[ExecutionStatus]:
    """The shortest chain of legal transitions from ``current`` to ``target`` (excluding
    ``current``); empty when already there, ValueError when unreachable. Used where another
    machine's status (a workflow conductor's) is mirrored onto the execution."""
    if current is target:
        return []
    paths: dict[ExecutionStatus, list[ExecutionStatus]] = {current: []}
    frontier = [current]
    while frontier:
        following = []
        for status in frontier:
            for nxt in sorted(TRANSITIONS[status]):
                if nxt in paths:
                    continue
                paths[nxt] = [*paths[status], nxt]
                if nxt is target:
                    return paths[nxt]
                following.append(nxt)
        frontier = following
    raise ValueError(f"no transition path {current} -> {target}")

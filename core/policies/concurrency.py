"""Concurrency decisions (``action.concurrency`` and ``.attr``): pure functions over parameters.

``active`` is the parameters of the action's executions in ``scheduled`` or ``running`` — the
only statuses st2 counts against a threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from core.models import Execution
from core.policies.compiled import ConcurrencyPolicy

Params = Mapping[str, Any]
_ABSENT = object()


class Admission(StrEnum):
    PROCEED = "proceed"
    DELAY = "delay"
    CANCEL = "cancel"


@dataclass(frozen=True)
class Verdict:
    admission: Admission
    policy_ref: str | None = None


PROCEED = Verdict(Admission.PROCEED)


def same_attributes(attributes: Sequence[str], a: Params, b: Params) -> bool:
    # A parameter left unset on both sides is equal too: both share that (empty) key.
    return all(a.get(name, _ABSENT) == b.get(name, _ABSENT) for name in attributes)


def competing(policy: ConcurrencyPolicy, candidate: Params, active: Sequence[Params]) -> int:
    """How many active executions count against ``candidate`` under ``policy``."""
    if not policy.attributes:
        return len(active)
    return sum(1 for other in active if same_attributes(policy.attributes, candidate, other))


def decide(
    policies: Sequence[ConcurrencyPolicy], candidate: Params, active: Sequence[Params]
) -> Verdict:
    """The first policy whose threshold is reached decides; under every threshold, proceed."""
    for policy in policies:
        if competing(policy, candidate, active) >= policy.threshold:
            return Verdict(Admission(policy.on_excess), policy.ref)
    return PROCEED


def releasable(
    policies: Sequence[ConcurrencyPolicy],
    active: Sequence[Params],
    delayed: Sequence[Execution],
) -> list[Execution]:
    """The delayed executions (given oldest first) that may now leave ``delayed``.

    Each one released takes its place among the active ones, so a freed slot goes to the
    oldest waiter that fits it. One a policy would now cancel is released too: the check at
    scheduling cancels it, the same as a new request.
    """
    taken = list(active)
    released = []
    for execution in delayed:
        if decide(policies, execution.parameters, taken).admission is not Admission.DELAY:
            released.append(execution)
            taken.append(execution.parameters)
    return released

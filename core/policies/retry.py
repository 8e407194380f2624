"""Retry decisions (``action.retry``): pure, from a completed execution to a new request."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.models import Execution, ExecutionStatus
from core.policies.compiled import RetryPolicy

# A zero delay still goes through a timer, so a retry never runs inside the completion path.
MIN_DELAY = 0.1
_RETRIED_STATUS = {"failure": ExecutionStatus.FAILED, "timeout": ExecutionStatus.TIMEOUT}


@dataclass(frozen=True)
class RetryRequest:
    action_ref: str
    parameters: dict[str, Any]
    context: dict[str, Any]
    delay: float


def retry_count(context: Mapping[str, Any]) -> int:
    """How many retries led to this execution (0 for an original request)."""
    policies = context.get("policies")
    retry = policies.get("retry") if isinstance(policies, Mapping) else None
    count = retry.get("retry_count") if isinstance(retry, Mapping) else None
    return count if isinstance(count, int) else 0


def plan_retry(policies: Sequence[RetryPolicy], execution: Execution) -> RetryRequest | None:
    """The new execution to request, or None; workflow children retry through their task."""
    if execution.parent is not None:
        return None
    count = retry_count(execution.context)
    for policy in policies:
        if execution.status is not _RETRIED_STATUS[policy.retry_on]:
            continue
        if count + 1 > policy.max_retry_count:
            return None
        return RetryRequest(
            execution.action_ref,
            copy.deepcopy(execution.parameters),
            _retry_context(policy, execution, count + 1),
            max(policy.delay, MIN_DELAY),
        )
    return None


def _retry_context(policy: RetryPolicy, execution: Execution, count: int) -> dict[str, Any]:
    # As st2: the original context (user, rule, trigger instance…) with ``policies`` replaced.
    context = copy.deepcopy(execution.context)
    context["policies"] = {
        "retry": {
            "applied_policy": policy.ref,
            "retry_count": count,
            "retried_liveaction_id": execution.id,
        }
    }
    return context

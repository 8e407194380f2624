"""Loaded policies as typed rules, grouped by the action they govern (defaults filled in)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from core.models.policy import CONCURRENCY, CONCURRENCY_ATTR, RETRY, Policy

OnExcess = Literal["delay", "cancel"]
RetryOn = Literal["failure", "timeout"]


@dataclass(frozen=True)
class ConcurrencyPolicy:
    ref: str
    threshold: int
    on_excess: OnExcess = "delay"
    # Empty for ``action.concurrency``: every execution of the action counts.
    attributes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetryPolicy:
    ref: str
    retry_on: RetryOn
    max_retry_count: int = 2
    delay: float = 0.0


@dataclass(frozen=True)
class PolicySet:
    concurrency: dict[str, tuple[ConcurrencyPolicy, ...]] = field(default_factory=dict)
    retry: dict[str, tuple[RetryPolicy, ...]] = field(default_factory=dict)

    def governs(self, action_ref: str) -> bool:
        """Whether a concurrency policy applies (the only check on the dispatch hot path)."""
        return action_ref in self.concurrency


def compile_policies(policies: Iterable[Policy]) -> PolicySet:
    """Enabled policies by action ref, in ref order so decisions do not depend on load order."""
    concurrency: dict[str, list[ConcurrencyPolicy]] = {}
    retry: dict[str, list[RetryPolicy]] = {}
    for policy in sorted(policies, key=lambda p: p.ref):
        if not policy.enabled:
            continue
        params = policy.parameters
        if policy.policy_type in (CONCURRENCY, CONCURRENCY_ATTR):
            attributes = (
                tuple(params.get("attributes", ()))
                if policy.policy_type == CONCURRENCY_ATTR
                else ()
            )
            rule = ConcurrencyPolicy(
                policy.ref, int(params["threshold"]), params.get("action", "delay"), attributes
            )
            concurrency.setdefault(policy.resource_ref, []).append(rule)
        elif policy.policy_type == RETRY:
            retry.setdefault(policy.resource_ref, []).append(
                RetryPolicy(
                    policy.ref,
                    params["retry_on"],
                    int(params.get("max_retry_count", 2)),
                    float(params.get("delay", 0)),
                )
            )
    return PolicySet(
        {ref: tuple(rules) for ref, rules in concurrency.items()},
        {ref: tuple(rules) for ref, rules in retry.items()},
    )

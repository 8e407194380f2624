"""The pure policy decisions: compiling, concurrency verdicts, releasing waiters, retry plans."""

from __future__ import annotations

from typing import Any

from core.models import Execution, ExecutionStatus
from core.models.policy import Policy
from core.policies import ConcurrencyPolicy, RetryPolicy, compile_policies
from core.policies.concurrency import Admission, decide, releasable
from core.policies.retry import MIN_DELAY, plan_retry, retry_count

S = ExecutionStatus
ONE = ConcurrencyPolicy("p.one", threshold=1)
BY_HOST = ConcurrencyPolicy("p.host", threshold=1, on_excess="cancel", attributes=("host",))


def execution(status: S = S.REQUESTED, parent: str | None = None, **params: Any) -> Execution:
    return Execution.request("p.act", "local-shell-cmd", params, parent=parent).with_changes(
        status=status, context={"user": "ann", "rule": {"ref": "p.r"}}
    )


def test_compile_fills_defaults_skips_disabled_and_groups_by_action() -> None:
    policies = [
        Policy("p", "c", "p.act", "action.concurrency", {"threshold": 2}),
        Policy("p", "a", "p.act", "action.concurrency.attr", {"threshold": 1, "attributes": ["x"]}),
        Policy("p", "r", "p.act", "action.retry", {"retry_on": "timeout"}),
        Policy("p", "off", "p.other", "action.concurrency", {"threshold": 0}, enabled=False),
    ]
    compiled = compile_policies(policies)
    assert compiled.concurrency == {
        "p.act": (
            ConcurrencyPolicy("p.a", 1, "delay", ("x",)),
            ConcurrencyPolicy("p.c", 2, "delay", ()),
        )
    }
    assert compiled.retry == {"p.act": (RetryPolicy("p.r", "timeout", 2, 0.0),)}
    assert compiled.governs("p.act") and not compiled.governs("p.other")


def test_under_threshold_proceeds_at_threshold_takes_the_policy_action() -> None:
    assert decide([ONE], {}, []).admission is Admission.PROCEED
    verdict = decide([ONE], {}, [{}])
    assert (verdict.admission, verdict.policy_ref) == (Admission.DELAY, "p.one")
    assert decide([ConcurrencyPolicy("p.z", threshold=0)], {}, []).admission is Admission.DELAY


def test_attr_policy_counts_only_equal_attribute_values() -> None:
    active = [{"host": "a", "other": 1}]
    assert decide([BY_HOST], {"host": "b"}, active).admission is Admission.PROCEED
    assert decide([BY_HOST], {"host": "a", "other": 2}, active).admission is Admission.CANCEL
    # Unset on both sides is the same (empty) key.
    assert decide([BY_HOST], {}, [{}]).admission is Admission.CANCEL
    assert decide([BY_HOST], {}, [{"host": None}]).admission is Admission.PROCEED


def test_release_gives_a_freed_slot_to_the_oldest_waiter_that_fits() -> None:
    first, second = execution(S.DELAYED, host="a"), execution(S.DELAYED, host="a")
    other = execution(S.DELAYED, host="b")
    by_host = ConcurrencyPolicy("p.host", threshold=1, attributes=("host",))
    assert releasable([by_host], [], [first, second, other]) == [first, other]
    assert releasable([by_host], [{"host": "b"}], [first, second, other]) == [first]
    assert releasable([ONE], [{}], [first]) == []
    assert releasable([], [{}], [first, second]) == [first, second]  # policy gone: all go


def test_retry_on_failure_plans_a_new_request_with_st2_context() -> None:
    failed = execution(S.FAILED, cmd="x")
    plan = plan_retry([RetryPolicy("p.retry", "failure", 2, 0.0)], failed)
    assert plan is not None
    assert (plan.action_ref, plan.parameters, plan.delay) == ("p.act", {"cmd": "x"}, MIN_DELAY)
    assert plan.context == {
        "user": "ann",
        "rule": {"ref": "p.r"},
        "policies": {
            "retry": {
                "applied_policy": "p.retry",
                "retry_count": 1,
                "retried_liveaction_id": failed.id,
            }
        },
    }
    assert retry_count(plan.context) == 1


def test_retry_stops_at_max_and_skips_other_statuses_and_workflow_children() -> None:
    policy = RetryPolicy("p.retry", "failure", 2, 5.0)
    once = execution(S.FAILED).with_changes(context={"policies": {"retry": {"retry_count": 1}}})
    twice = execution(S.FAILED).with_changes(context={"policies": {"retry": {"retry_count": 2}}})
    plan = plan_retry([policy], once)
    assert plan is not None and plan.delay == 5.0 and retry_count(plan.context) == 2
    assert plan_retry([policy], twice) is None
    assert plan_retry([policy], execution(S.TIMEOUT)) is None
    assert plan_retry([policy], execution(S.SUCCEEDED)) is None
    assert plan_retry([policy], execution(S.FAILED, parent="wf")) is None
    on_timeout = RetryPolicy("p.t", "timeout", 1, 0.0)
    assert plan_retry([on_timeout], execution(S.TIMEOUT)) is not None
    assert plan_retry([on_timeout], execution(S.FAILED)) is None

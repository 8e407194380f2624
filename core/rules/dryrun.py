"""A rule tried against a payload without firing it: `squall rule test` and the console's audit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.kv.lookup import kv_context
from core.kv.service import KeyValueService
from core.models import Rule
from core.rules.criteria import (
    CriteriaResult,
    criteria_read_kv,
    evaluate_criteria,
    kv_criteria_context,
)
from core.rules.matcher import RULE_USER


async def evaluate_rule(
    rule: Rule, kv: KeyValueService, trigger: str | None, payload: dict[str, Any]
) -> CriteriaResult:
    """Whether ``rule`` matches ``payload`` and why not (`squall rule test`, the console's
    audit trail); criteria that read the datastore see ``kv`` as the dispatcher would."""
    if not rule.enabled:
        return CriteriaResult(False, reason="the rule is disabled (enabled: false)")
    if trigger is not None and trigger != rule.trigger.type:
        reason = f"trigger instance is of {trigger!r}, the rule listens to {rule.trigger.type!r}"
        return CriteriaResult(False, reason=reason)
    context = None
    if criteria_read_kv(rule.criteria):  # the real datastore, as the dispatcher reads it
        context = kv_criteria_context(await kv_context(kv, RULE_USER))
    return evaluate_criteria(rule.criteria, payload, now=datetime.now(UTC), context=context)

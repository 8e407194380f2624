"""A rule as st2's API shows it (``RuleAPI``): CLI output and the REST API."""

from __future__ import annotations

from typing import Any

from core.models import Rule


def rule_to_api(rule: Rule) -> dict[str, Any]:
    return {
        "ref": rule.ref,
        "name": rule.name,
        "pack": rule.pack,
        "description": rule.description,
        "enabled": rule.enabled,
        "type": {"ref": rule.type},
        "trigger": {"type": rule.trigger.type, "parameters": dict(rule.trigger.parameters)},
        "criteria": {key: dict(spec) for key, spec in rule.criteria.items()},
        "action": {"ref": rule.action.ref, "parameters": dict(rule.action.parameters)},
        "context": dict(rule.context),
        "tags": [dict(tag) for tag in rule.tags],
    }

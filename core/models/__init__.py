"""Frozen models shared by every part of Squall; adapters may import only this package."""

from core.models.action import Action, Pack, ParamSchema, RunnerType, split_ref
from core.models.alias import Alias, AliasApproval, AliasFormat
from core.models.execution import MASK, Execution, StatusChange, new_id, utcnow
from core.models.status import (
    CANCELABLE,
    COMPLETED,
    FAILED_GROUP,
    IN_FLIGHT,
    RUNNABLE,
    TRANSITIONS,
    ExecutionStatus,
    IllegalTransition,
    can_transition,
    check_transition,
)
from core.models.trigger import CriterionSpec, Rule, RuleAction, RuleTrigger, TriggerType
from core.models.trigger_instance import (
    INSTANCE_TRANSITIONS,
    IllegalInstanceTransition,
    InstanceStatusChange,
    RuleEnforcement,
    TriggerInstance,
    TriggerInstanceStatus,
)

__all__ = [
    "CANCELABLE",
    "COMPLETED",
    "FAILED_GROUP",
    "INSTANCE_TRANSITIONS",
    "IN_FLIGHT",
    "MASK",
    "RUNNABLE",
    "TRANSITIONS",
    "Action",
    "Alias",
    "AliasApproval",
    "AliasFormat",
    "CriterionSpec",
    "Execution",
    "ExecutionStatus",
    "IllegalInstanceTransition",
    "IllegalTransition",
    "InstanceStatusChange",
    "Pack",
    "ParamSchema",
    "Rule",
    "RuleAction",
    "RuleEnforcement",
    "RuleTrigger",
    "RunnerType",
    "StatusChange",
    "TriggerInstance",
    "TriggerInstanceStatus",
    "TriggerType",
    "can_transition",
    "check_transition",
    "new_id",
    "split_ref",
    "utcnow",
]

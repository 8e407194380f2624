"""The pure rule-criteria engine: operators, payload keys and criteria evaluation."""

from core.rules.criteria import CriteriaResult, CriterionResult, evaluate_criteria
from core.rules.keys import KeyPathError, lookup
from core.rules.operators import OPERATOR_NAMES, UnknownOperatorError, get_operator

__all__ = [
    "OPERATOR_NAMES",
    "CriteriaResult",
    "CriterionResult",
    "KeyPathError",
    "UnknownOperatorError",
    "evaluate_criteria",
    "get_operator",
    "lookup",
]

"""What an execution becomes when the store refuses its final document.

A result can be too large for the store (MongoDB's 16 MiB per document, held on SQLite too) or
hold a value the backend cannot encode (an integer past 64 bits in BSON). Such an execution
must not stay ``running`` (and later ``abandoned``): it ends ``failed`` (or, where the status
table allows no ``failed``, in the status it was going to) with a small marker result that says
why, so the write that replaces it always fits.
"""

from __future__ import annotations

from core.models import Execution, ExecutionStatus
from core.models.status import can_transition

S = ExecutionStatus
REJECTED_KEY = "result_rejected"


def rejected_result(reason: str) -> dict[str, object]:
    return {
        "error": f"Squall could not store the result of this execution: {reason}",
        REJECTED_KEY: True,
    }


def with_rejected_result(current: Execution, refused: Execution, reason: str) -> Execution:
    """``refused`` (a completion the store refused) redone from ``current`` as a marker."""
    status = S.FAILED if can_transition(current.status, S.FAILED) else refused.status
    return current.transition(status, result=rejected_result(reason))

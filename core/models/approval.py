"""Approvals: a question someone else must answer before something gated may go ahead.

An approval is decided once: every status change is a compare-and-set on ``pending`` in the
store, so of two simultaneous answers exactly one wins. Aliases with ``approval:`` and workflow
inquiries build on this; what is gated (``subject``) is opaque here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.models.execution import isoformat, new_id, parse_ts


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELED = "canceled"


_A = ApprovalStatus

# Only a pending approval changes, and only once.
APPROVAL_TRANSITIONS: dict[ApprovalStatus, frozenset[ApprovalStatus]] = {
    _A.PENDING: frozenset({_A.APPROVED, _A.DENIED, _A.EXPIRED, _A.CANCELED}),
    _A.APPROVED: frozenset(),
    _A.DENIED: frozenset(),
    _A.EXPIRED: frozenset(),
    _A.CANCELED: frozenset(),
}

# The response schema when none is given: approve or deny, nothing else.
APPROVE_OR_DENY: dict[str, Any] = {
    "type": "object",
    "properties": {"approved": {"type": "boolean"}},
    "required": ["approved"],
    "additionalProperties": False,
}


class IllegalApprovalTransition(ValueError):
    """A change from a status that does not allow it (e.g. approving an expired approval)."""


@dataclass(frozen=True)
class Approval:
    """One question and, once decided, its answer: who, when, from where."""

    id: str
    title: str
    requester: str
    created_at: datetime
    description: str = ""
    requester_identity: str | None = None
    place: dict[str, Any] = field(default_factory=dict)
    schema: dict[str, Any] = field(default_factory=lambda: dict(APPROVE_OR_DENY))
    approvers: tuple[str, ...] = ()
    approver_roles: tuple[str, ...] = ()
    requester_may_approve: bool = False
    status: ApprovalStatus = ApprovalStatus.PENDING
    expires_at: datetime | None = None
    response: dict[str, Any] | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decided_from: dict[str, Any] | None = None
    subject: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def new_id() -> str:
        return new_id()

    def is_due(self, now: datetime) -> bool:
        """Past its expiry (and so no longer answerable), whatever the stored status says."""
        return self.expires_at is not None and now >= self.expires_at

    def decide(
        self,
        status: ApprovalStatus,
        *,
        at: datetime,
        by: str | None = None,
        response: dict[str, Any] | None = None,
        place: dict[str, Any] | None = None,
    ) -> Approval:
        """The decided copy; raises IllegalApprovalTransition unless this one is pending."""
        if status not in APPROVAL_TRANSITIONS[self.status]:
            raise IllegalApprovalTransition(
                f"approval {self.id}: cannot go from {self.status} to {status}"
            )
        return replace(
            self, status=status, decided_at=at, decided_by=by, response=response, decided_from=place
        )

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "requester": self.requester,
            "requester_identity": self.requester_identity,
            "place": self.place,
            "schema": self.schema,
            "approvers": list(self.approvers),
            "approver_roles": list(self.approver_roles),
            "requester_may_approve": self.requester_may_approve,
            "status": str(self.status),
            "created_at": isoformat(self.created_at),
            "expires_at": isoformat(self.expires_at),
            "response": self.response,
            "decided_by": self.decided_by,
            "decided_at": isoformat(self.decided_at),
            "decided_from": self.decided_from,
            "subject": self.subject,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Approval:
        created = parse_ts(doc.get("created_at"))
        if created is None:
            raise ValueError(f"approval {doc.get('id')!r} has no created_at")
        return cls(
            id=doc["id"],
            title=doc["title"],
            description=doc.get("description") or "",
            requester=doc["requester"],
            requester_identity=doc.get("requester_identity"),
            place=doc.get("place") or {},
            schema=doc.get("schema") or dict(APPROVE_OR_DENY),
            approvers=tuple(doc.get("approvers") or ()),
            approver_roles=tuple(doc.get("approver_roles") or ()),
            requester_may_approve=bool(doc.get("requester_may_approve")),
            status=ApprovalStatus(doc["status"]),
            created_at=created,
            expires_at=parse_ts(doc.get("expires_at")),
            response=doc.get("response"),
            decided_by=doc.get("decided_by"),
            decided_at=parse_ts(doc.get("decided_at")),
            decided_from=doc.get("decided_from"),
            subject=doc.get("subject") or {},
        )

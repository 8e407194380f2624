"""One audit log entry: who asked for what, where, and whether it was allowed (and why not)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.models.execution import isoformat, new_id, parse_ts


@dataclass(frozen=True)
class AuditEntry:
    """Append-only. ``subject`` and ``details`` hold already-masked data, never secrets."""

    kind: str  # e.g. authz.check, approval.create, approval.decide, approval.refuse
    at: datetime
    user: str | None  # the Squall user name
    allowed: bool
    reason: str
    identity: str | None = None  # ChatIdentity.key, when the request came from chat
    place: dict[str, Any] | None = None  # ChatPlace.to_context(), when it came from chat
    subject: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=new_id)

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "at": isoformat(self.at),
            "user": self.user,
            "identity": self.identity,
            "place": self.place,
            "subject": self.subject,
            "allowed": self.allowed,
            "reason": self.reason,
            "details": self.details,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> AuditEntry:
        at = parse_ts(doc.get("at"))
        if at is None:
            raise ValueError(f"audit entry {doc.get('id')!r} has no time")
        return cls(
            id=doc["id"],
            kind=doc["kind"],
            at=at,
            user=doc.get("user"),
            identity=doc.get("identity"),
            place=doc.get("place"),
            subject=doc.get("subject") or {},
            allowed=bool(doc.get("allowed")),
            reason=doc.get("reason") or "",
            details=doc.get("details") or {},
        )

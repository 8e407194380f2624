"""API keys for the webhook listener: only the hash of a key is ever stored (security.md §1.1).

The plaintext is shown once, when the key is created; afterwards a key is named by its ``id``,
a short non-secret prefix of its hash. Revoking sets ``revoked_at``: st2 keys never expire but
can be disabled, and a revoked key is kept so listings show who had access and when.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from core.models.execution import isoformat, parse_ts, utcnow


@dataclass(frozen=True)
class ApiKey:
    id: str
    key_hash: str = field(repr=False)
    created_at: datetime
    name: str = ""
    created_by: str = ""
    revoked_at: datetime | None = None
    # The Squall user the REST API acts as for this key ("" = none: the default role only).
    user: str = ""

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def revoke(self, at: datetime | None = None) -> ApiKey:
        return replace(self, revoked_at=at or utcnow())

    def to_doc(self) -> dict[str, Any]:
        """The stored form (hash included); see ``to_api`` for what may be shown."""
        return {**self.to_api(), "key_hash": self.key_hash}

    def to_api(self) -> dict[str, Any]:
        """What listings show: never the key, nor its hash."""
        return {
            "id": self.id,
            "name": self.name,
            "created_by": self.created_by,
            "created_at": isoformat(self.created_at),
            "revoked_at": isoformat(self.revoked_at),
            "enabled": not self.revoked,
            "user": self.user,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ApiKey:
        created = parse_ts(doc.get("created_at"))
        if created is None:
            raise ValueError(f"api key {doc.get('id')!r}: created_at is missing")
        return cls(
            id=doc["id"],
            key_hash=doc["key_hash"],
            created_at=created,
            name=doc.get("name") or "",
            created_by=doc.get("created_by") or "",
            revoked_at=parse_ts(doc.get("revoked_at")),
            user=doc.get("user") or "",
        )

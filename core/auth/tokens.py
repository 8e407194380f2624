"""Auth tokens: random, shown once, stored only as a SHA-256 hash; TTL-limited and revocable.

``kind`` separates tokens users asked for (``st2 login``) from the short-lived ones an execution
gets as ``ST2_ACTION_AUTH_TOKEN``, which are revoked when it ends.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from core.models.execution import isoformat, new_id, parse_ts

TokenKind = Literal["user", "action"]
MAX_TOKEN_CHARS = 128


def hash_token(plaintext: str) -> str:
    # Tokens are 256 random bits: a fast hash is enough (no guessing to slow down), and an
    # index lookup by hash never compares a stored secret with caller input byte by byte.
    return hashlib.sha256(plaintext.encode()).hexdigest()


@dataclass(frozen=True)
class Token:
    id: str
    user: str
    token_hash: str = field(repr=False)
    issued_at: datetime
    expiry: datetime
    kind: TokenKind = "user"
    execution_id: str | None = None
    revoked_at: datetime | None = None

    @classmethod
    def issue(
        cls,
        user: str,
        now: datetime,
        ttl: timedelta,
        kind: TokenKind = "user",
        execution_id: str | None = None,
    ) -> tuple[str, Token]:
        """(plaintext, token): the plaintext is returned once and never stored."""
        plaintext = secrets.token_hex(32)
        token = cls(new_id(), user, hash_token(plaintext), now, now + ttl, kind, execution_id)
        return plaintext, token

    def valid_at(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expiry

    def revoke(self, at: datetime) -> Token:
        return replace(self, revoked_at=at)

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user,
            "token_hash": self.token_hash,
            "issued_at": isoformat(self.issued_at),
            "expiry": isoformat(self.expiry),
            "kind": self.kind,
            "execution_id": self.execution_id,
            "revoked_at": isoformat(self.revoked_at),
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Token:
        issued, expiry = parse_ts(doc.get("issued_at")), parse_ts(doc.get("expiry"))
        if issued is None or expiry is None:
            raise ValueError(f"token {doc.get('id')!r}: issued_at or expiry missing")
        return cls(
            id=doc["id"],
            user=doc["user"],
            token_hash=doc["token_hash"],
            issued_at=issued,
            expiry=expiry,
            kind="action" if doc.get("kind") == "action" else "user",
            execution_id=doc.get("execution_id"),
            revoked_at=parse_ts(doc.get("revoked_at")),
        )

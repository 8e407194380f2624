"""The audit log: every permission decision and approval step, who/what/where/why.

Entries are append-only and go through the store's ``audit`` repository. Callers pass
already-masked parameters (core.params.secrets); nothing here unmasks or logs values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.authz.authorizer import Decision, SquallUser
from core.models.audit import AuditEntry
from core.models.chat import ChatPlace
from core.models.execution import utcnow

if TYPE_CHECKING:
    from core.store.base import Store

__all__ = ["AuditEntry", "AuditLog"]


class AuditLog:
    """Writes and reads audit entries; ``now`` is injectable so tests control time."""

    def __init__(self, store: Store, *, now: Callable[[], datetime] = utcnow) -> None:
        self._store = store
        self._now = now

    async def record(
        self,
        kind: str,
        *,
        user: str | None,
        identity: str | None,
        place: dict[str, Any] | None,
        subject: dict[str, Any],
        allowed: bool,
        reason: str,
        details: dict[str, Any] | None = None,
    ) -> AuditEntry:
        entry = AuditEntry(
            kind=kind,
            at=self._now(),
            user=user,
            identity=identity,
            place=place,
            subject=subject,
            allowed=allowed,
            reason=reason,
            details=details or {},
        )
        await self._store.audit.insert(entry)
        return entry

    async def record_check(
        self,
        user: SquallUser,
        decision: Decision,
        *,
        action_ref: str,
        alias_ref: str | None = None,
        place: ChatPlace | None = None,
        masked_parameters: Mapping[str, Any] | None = None,
        kind: str = "authz.check",
    ) -> AuditEntry:
        """Audit one ``Authorizer.check`` answer (pass parameters with secrets masked)."""
        subject: dict[str, Any] = {"action": action_ref, "alias": alias_ref}
        subject["parameters"] = dict(masked_parameters or {})
        return await self.record(
            kind,
            user=user.name,
            identity=None if user.identity is None else user.identity.key,
            place=None if place is None else place.to_context(),
            subject=subject,
            allowed=decision.allowed,
            reason=decision.reason,
            details={"rule": decision.rule, "roles": list(user.roles)},
        )

    async def list(self, limit: int = 50, user: str | None = None) -> list[AuditEntry]:
        """Newest first; ``user`` keeps only that Squall user's entries."""
        return await self._store.audit.list(limit=limit, user=user)

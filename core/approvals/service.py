"""Approvals as first-class objects: ask, answer once, expire; every step audited.

Who may answer: the listed users and members of the listed roles, and the requester only when
``requester_may_approve``. The decision is a compare-and-set on ``pending`` in the store, so of
two simultaneous answers (in one process or two sharing a store) exactly one wins; the loser is
told who decided. A response with ``approved: false`` denies; any other valid response approves
(custom schemas are how workflow inquiries ask for data).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import jsonschema

from core.authz.authorizer import Authorizer, SquallUser
from core.models.approval import APPROVE_OR_DENY, Approval, ApprovalStatus
from core.models.execution import isoformat, utcnow
from core.observe import metrics

if TYPE_CHECKING:
    from core.authz.audit import AuditLog
    from core.store.base import Store

__all__ = [
    "ANYONE",
    "ApprovalListener",
    "ApprovalRefused",
    "ApprovalRequest",
    "ApprovalService",
    "split_approvers",
]

log = logging.getLogger(__name__)

ApprovalListener = Callable[[Approval], Awaitable[None]]
# In ``approvers``: any Squall user may answer (an inquiry that names no users or roles).
ANYONE = "*"
_PENDING = ApprovalStatus.PENDING
_APPROVED = ApprovalStatus.APPROVED
_CANCELED = ApprovalStatus.CANCELED


class ApprovalRefused(Exception):
    """A response that does not count, with the reason to show the responder."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ApprovalRequest:
    """What ``create`` needs besides the requester and the place.

    ``subject`` (what is gated) is stored with the approval and copied into the audit log:
    secrets must already be masked in it.
    """

    title: str
    subject: dict[str, Any]
    description: str = ""
    approvers: tuple[str, ...] = ()
    approver_roles: tuple[str, ...] = ()
    requester_may_approve: bool = False
    ttl: timedelta | None = None
    schema: dict[str, Any] | None = None


def yes_no_response(schema: dict[str, Any], approved: bool) -> dict[str, Any]:
    """What ``approve``/``deny`` (typed or a button) answer: ``{"approved": …}``, or — for a
    schema that asks one yes/no question under another name (st2's default ``continue``) —
    that boolean."""
    properties = schema.get("properties") or {}
    if "approved" in properties or not isinstance(properties, dict):
        return {"approved": approved}
    booleans = [name for name, prop in properties.items()
                if isinstance(prop, dict) and prop.get("type") == "boolean"]  # fmt: skip
    required = [name for name in booleans if name in (schema.get("required") or ())]
    chosen = required or booleans
    return {chosen[0]: approved} if len(chosen) == 1 else {"approved": approved}


def with_defaults(schema: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """``response`` with the schema's top-level property defaults filled in."""
    filled = dict(response)
    for name, prop in (schema.get("properties") or {}).items():
        if isinstance(prop, dict) and "default" in prop and name not in filled:
            filled[name] = prop["default"]
    return filled


def split_approvers(entries: Iterable[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(users, roles) from an alias's ``approvers`` list, where ``role:NAME`` names a role."""
    listed = tuple(entries)
    users = tuple(entry for entry in listed if not entry.startswith("role:"))
    roles = tuple(entry.removeprefix("role:") for entry in listed if entry.startswith("role:"))
    return users, roles


class ApprovalService:
    """Creates, decides and expires approvals; tells subscribers about each decision once."""

    def __init__(
        self,
        store: Store,
        authorizer: Authorizer,
        audit: AuditLog,
        *,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._authorizer = authorizer
        self._audit = audit
        self._now = now
        self._listeners: list[ApprovalListener] = []

    def subscribe(self, listener: ApprovalListener) -> Callable[[], None]:
        """Call ``listener`` once per approval this service decides or expires; returns undo."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    async def create(
        self,
        request: ApprovalRequest,
        *,
        requester: SquallUser,
        place: dict[str, Any],
        approval_id: str | None = None,
    ) -> Approval:
        """Store a pending approval; ``approval_id`` lets the caller name it beforehand (so a
        gated execution can point at its approval before the approval exists)."""
        schema = request.schema if request.schema is not None else dict(APPROVE_OR_DENY)
        _check_request(request, schema)
        now = self._now()
        approval = Approval(
            id=approval_id or Approval.new_id(),
            title=request.title,
            description=request.description,
            requester=requester.name,
            requester_identity=_identity(requester),
            place=place,
            schema=schema,
            approvers=request.approvers,
            approver_roles=request.approver_roles,
            requester_may_approve=request.requester_may_approve,
            created_at=now,
            expires_at=None if request.ttl is None else now + request.ttl,
            subject=request.subject,
        )
        await self._store.approvals.insert(approval)
        await self._record("approval.create", approval, requester, place, True, "requested")
        return approval

    async def get(self, approval_id: str) -> Approval | None:
        return await self._store.approvals.get(approval_id)

    async def list_pending(self, limit: int = 50) -> list[Approval]:
        return await self._store.approvals.list(status=_PENDING, limit=limit)

    async def respond(
        self,
        approval_id: str,
        user: SquallUser,
        response: dict[str, Any],
        place: dict[str, Any],
    ) -> Approval:
        """Decide ``approval_id`` with ``response``; raises ApprovalRefused when it cannot."""
        approval = await self._existing(approval_id, user, place)
        try:
            return await self._decide(approval, user, response, place)
        except ApprovalRefused as refused:
            await self._record("approval.refuse", approval, user, place, False, refused.reason)
            raise

    async def cancel(self, approval_id: str, user: SquallUser, place: dict[str, Any]) -> Approval:
        """The requester withdraws a pending approval."""
        approval = await self._existing(approval_id, user, place)
        try:
            if approval.status is not _PENDING:
                raise ApprovalRefused(_already(approval))
            if user.name != approval.requester:
                raise ApprovalRefused(
                    f"only the requester ({approval.requester}) may cancel approval {approval.id}"
                )
            canceled = approval.decide(_CANCELED, at=self._now(), by=user.name, place=place)
            return await self._commit(approval, canceled, user, place)
        except ApprovalRefused as refused:
            await self._record("approval.refuse", approval, user, place, False, refused.reason)
            raise

    async def withdraw(self, approval_id: str, *, reason: str) -> Approval | None:
        """Squall itself cancels a pending approval (what it gated went away); None if it was
        not pending."""
        approval = await self._store.approvals.get(approval_id)
        if approval is None or approval.status is not _PENDING:
            return None
        canceled = approval.decide(_CANCELED, at=self._now())
        if not await self._store.approvals.replace(canceled, expected_status=_PENDING):
            return None
        await self._record("approval.withdraw", canceled, None, None, True, reason)
        await self._notify(canceled)
        return canceled

    async def expire_due(self) -> list[Approval]:
        """Mark pending approvals past their TTL expired; returns those this call expired."""
        expired: list[Approval] = []
        for due in await self._store.approvals.list_expired(self._now()):
            done = due.decide(ApprovalStatus.EXPIRED, at=self._now())
            if await self._store.approvals.replace(done, expected_status=_PENDING):
                await self._record("approval.expire", done, None, None, True, "expired")
                await self._notify(done)
                expired.append(done)
        return expired

    async def _existing(
        self, approval_id: str, user: SquallUser, place: dict[str, Any]
    ) -> Approval:
        approval = await self._store.approvals.get(approval_id)
        if approval is not None:
            return approval
        reason = f"there is no approval {approval_id}"
        await self._audit.record(
            "approval.refuse",
            user=user.name,
            identity=_identity(user),
            place=place,
            subject={"approval": approval_id},
            allowed=False,
            reason=reason,
        )
        raise ApprovalRefused(reason)

    async def _decide(
        self, approval: Approval, user: SquallUser, response: dict[str, Any], place: dict[str, Any]
    ) -> Approval:
        now = self._now()
        if approval.status is _PENDING and approval.is_due(now):
            await self.expire_due()
            approval = await self._store.approvals.get(approval.id) or approval
        if approval.status is not _PENDING:
            raise ApprovalRefused(_already(approval))
        self._check_responder(approval, user)
        response = with_defaults(approval.schema, response)
        _check_response(approval, response)
        status = ApprovalStatus.DENIED if _says_no(approval, response) else _APPROVED
        decided = approval.decide(status, at=now, by=user.name, response=response, place=place)
        return await self._commit(approval, decided, user, place)

    async def _commit(
        self, approval: Approval, decided: Approval, user: SquallUser, place: dict[str, Any]
    ) -> Approval:
        if not await self._store.approvals.replace(decided, expected_status=_PENDING):
            current = await self._store.approvals.get(approval.id) or approval
            raise ApprovalRefused(_already(current))
        await self._record("approval.decide", decided, user, place, True, str(decided.status))
        await self._notify(decided)
        return decided

    def may_answer(self, approval: Approval, user: SquallUser) -> bool:
        """Whether ``user`` may answer (the same check ``respond`` makes)."""
        try:
            self._check_responder(approval, user)
        except ApprovalRefused:
            return False
        return True

    def _check_responder(self, approval: Approval, user: SquallUser) -> None:
        if user.name == approval.requester and not approval.requester_may_approve:
            raise ApprovalRefused(
                f"{user.name} requested approval {approval.id} and may not answer it"
            )
        if (
            ANYONE in approval.approvers
            or user.name in approval.approvers
            or any(self._authorizer.has_role(user, role) for role in approval.approver_roles)
        ):
            return
        raise ApprovalRefused(
            f"{user.name} may not answer approval {approval.id} "
            f"(approvers: {', '.join(approval.approvers) or 'none'}; "
            f"roles: {', '.join(approval.approver_roles) or 'none'})"
        )

    async def announce(self, approval: Approval) -> None:
        """Tell this process's listeners (its workflow, its chat card) about a decision another
        process made, e.g. ``squall inquiry respond``; it was counted where it was made."""
        await self._call_listeners(approval)

    async def _notify(self, approval: Approval) -> None:
        if approval.status is not _PENDING:
            metrics.APPROVALS_DECIDED.labels(str(approval.status)).inc()
        await self._call_listeners(approval)

    async def _call_listeners(self, approval: Approval) -> None:
        for listener in list(self._listeners):
            try:
                await listener(approval)
            except Exception:
                # One broken subscriber must not hide the decision from the others.
                log.exception("approval listener failed for %s", approval.id)

    async def _record(
        self,
        kind: str,
        approval: Approval,
        user: SquallUser | None,
        place: dict[str, Any] | None,
        allowed: bool,
        reason: str,
    ) -> None:
        await self._audit.record(
            kind,
            user=None if user is None else user.name,
            identity=None if user is None else _identity(user),
            place=place,
            subject={"approval": approval.id, "title": approval.title, **approval.subject},
            allowed=allowed,
            reason=reason,
            details={"status": str(approval.status), "requester": approval.requester},
        )


def _says_no(approval: Approval, response: dict[str, Any]) -> bool:
    """A denial: the approve/deny question of the schema answered no."""
    [(name, _)] = yes_no_response(approval.schema, False).items()
    return response.get(name) is False


def _identity(user: SquallUser) -> str | None:
    return None if user.identity is None else user.identity.key


def _already(approval: Approval) -> str:
    if approval.status is ApprovalStatus.EXPIRED:
        return f"approval {approval.id} expired at {isoformat(approval.expires_at)}"
    by = f" by {approval.decided_by}" if approval.decided_by else ""
    return f"approval {approval.id} was already {approval.status}{by}"


def _check_request(request: ApprovalRequest, schema: dict[str, Any]) -> None:
    if not request.approvers and not request.approver_roles:
        raise ValueError(f"approval {request.title!r}: name approvers or approver_roles")
    if request.ttl is not None and request.ttl <= timedelta(0):
        raise ValueError(f"approval {request.title!r}: ttl must be positive")
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"approval {request.title!r}: invalid schema: {exc.message}") from None


def _check_response(approval: Approval, response: dict[str, Any]) -> None:
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(approval.schema).iter_errors(response)
    )
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "response"
        raise ApprovalRefused(
            f"invalid response to approval {approval.id}: {where}: {error.message}"
        )

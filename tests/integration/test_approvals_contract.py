"""Approval and audit repositories, run on every backend (conftest)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from core.authz.audit import AuditLog
from core.authz.authorizer import Authorizer, AuthzConfig, execution_context
from core.authz.config import parse_roles
from core.models import MASK
from core.models.approval import Approval, ApprovalStatus, IllegalApprovalTransition
from core.models.audit import AuditEntry
from core.models.chat import ChatIdentity, ChatPlace
from core.store import Store, StoreError

from .conftest import StoreFactory

A = ApprovalStatus
BASE = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def approval(n: int, ttl: timedelta | None = None) -> Approval:
    created = BASE + timedelta(seconds=n)
    return Approval(
        id=f"ap{n}",
        title=f"run #{n}",
        requester="bob",
        requester_identity="slack:T01:U02",
        created_at=created,
        expires_at=None if ttl is None else created + ttl,
        approvers=("alice",),
        approver_roles=("ops",),
        place={"adapter": "slack", "channel": "C1", "thread": None},
        subject={"alias": "ops.restart", "parameters": {"$host": "web.1", "a.b": [1]}},
    )


def entry(n: int, user: str | None = "alice") -> AuditEntry:
    return AuditEntry(
        kind="authz.check",
        at=BASE + timedelta(seconds=n // 2),  # pairs share a time: order must still hold
        user=user,
        allowed=n % 2 == 0,
        reason=f"reason {n}",
        identity="slack:T01:U01",
        place={"channel": "C1"},
        subject={"action": "core.local", "parameters": {"cmd": "uptime", "$x.y": 1}},
        details={"n": n},
    )


async def test_approval_round_trips_and_ids_are_unique(store: Store) -> None:
    stored = approval(1, ttl=timedelta(minutes=5))
    await store.approvals.insert(stored)
    assert await store.approvals.get("ap1") == stored
    assert await store.approvals.get("missing") is None
    with pytest.raises(StoreError, match="ap1 already exists"):
        await store.approvals.insert(stored)


async def test_replace_is_a_compare_and_set_on_status(store: Store) -> None:
    pending = approval(1)
    await store.approvals.insert(pending)
    approved = pending.decide(
        A.APPROVED, at=BASE, by="alice", response={"approved": True}, place={"channel": "C1"}
    )
    assert await store.approvals.replace(approved, expected_status=A.PENDING) is True
    denied = pending.decide(A.DENIED, at=BASE, by="carol", response={"approved": False})
    assert await store.approvals.replace(denied, expected_status=A.PENDING) is False
    assert await store.approvals.get("ap1") == approved
    with pytest.raises(IllegalApprovalTransition):
        approved.decide(A.DENIED, at=BASE)


async def test_list_by_status_newest_first(store: Store) -> None:
    for n in (1, 3, 2):
        await store.approvals.insert(approval(n))
    decided = approval(2).decide(A.CANCELED, at=BASE, by="bob")
    assert await store.approvals.replace(decided, expected_status=A.PENDING)
    assert [a.id for a in await store.approvals.list()] == ["ap3", "ap2", "ap1"]
    assert [a.id for a in await store.approvals.list(status=A.PENDING)] == ["ap3", "ap1"]
    assert [a.id for a in await store.approvals.list(status=A.CANCELED)] == ["ap2"]
    assert [a.id for a in await store.approvals.list(limit=1)] == ["ap3"]


async def test_list_expired_returns_due_pending_only(store: Store) -> None:
    await store.approvals.insert(approval(1, ttl=timedelta(seconds=10)))  # due at +11s
    await store.approvals.insert(approval(2, ttl=timedelta(seconds=5)))  # due at +7s
    await store.approvals.insert(approval(3))  # never
    decided = approval(4, ttl=timedelta(seconds=1)).decide(A.APPROVED, at=BASE, by="alice")
    await store.approvals.insert(decided)
    at = BASE + timedelta(seconds=11)
    assert [a.id for a in await store.approvals.list_expired(at)] == ["ap2", "ap1"]
    assert [a.id for a in await store.approvals.list_expired(at - timedelta(seconds=4))] == ["ap2"]
    assert await store.approvals.list_expired(BASE) == []


async def test_approvals_survive_reopening(make_store: StoreFactory) -> None:
    first = make_store()
    await first.open()
    await first.approvals.insert(approval(1))
    await first.close()
    second = make_store()
    await second.open()
    assert await second.approvals.get("ap1") == approval(1)


async def test_audit_lists_newest_first_and_by_user(store: Store) -> None:
    written = [entry(n, user="alice" if n % 3 else "bob") for n in range(6)]
    for item in written:
        await store.audit.insert(item)
    listed = await store.audit.list(limit=10)
    assert listed == list(reversed(written))
    assert await store.audit.list(limit=2) == [written[5], written[4]]
    assert await store.audit.list(limit=10, user="bob") == [written[3], written[0]]
    assert await store.audit.list(limit=10, user="nobody") == []


async def test_audit_entry_without_user_or_place(store: Store) -> None:
    system = replace(entry(1), user=None, identity=None, place=None, details={})
    await store.audit.insert(system)
    assert await store.audit.list() == [system]


async def test_audit_log_records_a_permission_decision(store: Store) -> None:
    authz = Authorizer(
        AuthzConfig(roles=parse_roles({"default": [{"allow": {"actions": ["x.*"]}}]}))
    )
    stranger = authz.user_for(ChatIdentity("slack", "T01", "U09"))
    place = ChatPlace("slack", "C1", thread="t1", message_id="m1")
    decision = authz.check(stranger, action_ref="core.local", alias_ref="ops.run", channel="C1")
    log = AuditLog(store, now=lambda: BASE)
    await log.record_check(
        stranger,
        decision,
        action_ref="core.local",
        alias_ref="ops.run",
        place=place,
        masked_parameters={"cmd": "uptime", "token": MASK},
    )
    [entry] = await log.list(user="slack:T01:U09")
    assert (entry.kind, entry.at, entry.allowed, entry.reason) == (
        "authz.check",
        BASE,
        False,
        "no rule of role(s) default allows action core.local (alias ops.run) in channel C1",
    )
    assert entry.identity == "slack:T01:U09" and entry.place == place.to_context()
    assert entry.subject == {
        "action": "core.local",
        "alias": "ops.run",
        "parameters": {"cmd": "uptime", "token": MASK},
    }
    assert entry.details == {"rule": None, "roles": ["default"]}
    assert execution_context(stranger, place) == {
        "user": "slack:T01:U09",
        "chat": {
            "adapter": "slack",
            "channel": "C1",
            "thread": "t1",
            "message": "m1",
            "direct": False,
        },
    }

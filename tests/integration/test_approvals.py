"""ApprovalService: who may answer, one answer wins, expiry, subscribers, the audit trail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.app import APPROVAL_SWEEP_SECONDS, open_engine
from bot.settings import load_settings
from core.approvals.gate import GatedRequest
from core.approvals.service import (
    ApprovalRefused,
    ApprovalRequest,
    ApprovalService,
    split_approvers,
)
from core.authz.audit import AuditLog
from core.authz.authorizer import Authorizer, AuthzConfig, SquallUser
from core.authz.config import parse_roles, parse_users
from core.models import ExecutionStatus
from core.models.approval import Approval, ApprovalStatus
from core.models.chat import ChatIdentity
from core.store import Store
from core.store.sqlite import SqliteStore
from tests.conftest import write_config

A = ApprovalStatus
START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
WHERE = {"adapter": "slack", "channel": "C1", "thread": None, "message": "m1", "direct": False}
AUTHZ = Authorizer(
    AuthzConfig(
        parse_users(
            {
                "alice": {"identities": ["slack:T01:U01"], "roles": ["ops"]},
                "bob": {"identities": ["slack:T01:U02"], "roles": ["ops"]},
                "carol": {"identities": ["slack:T01:U03"], "roles": ["ops"]},
                "dave": {"identities": ["slack:T01:U04"]},
            }
        ),
        parse_roles({"ops": [{"allow": {"actions": ["*"]}}]}),
    )
)


def user(user_id: str) -> SquallUser:
    return AUTHZ.user_for(ChatIdentity("slack", "T01", user_id))


ALICE, BOB, CAROL, DAVE = user("U01"), user("U02"), user("U03"), user("U04")
RESTART = ApprovalRequest(
    title="restart web",
    subject={"alias": "ops.restart", "parameters": {"host": "web1"}},
    approver_roles=("ops",),
    ttl=timedelta(minutes=10),
)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Harness:
    """A service over ``store`` with a controllable clock and a record of notifications."""

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()
        self.audit = AuditLog(store, now=self.clock)
        self.service = ApprovalService(store, AUTHZ, self.audit, now=self.clock)
        self.notified: list[Approval] = []
        self.service.subscribe(self._on_decision)

    async def _on_decision(self, approval: Approval) -> None:
        self.notified.append(approval)


@pytest.fixture
def harness(store: Store) -> Harness:
    return Harness(store)


async def test_create_stores_a_pending_approval_and_audits_it(harness: Harness) -> None:
    made = await harness.service.create(RESTART, requester=BOB, place=WHERE)
    assert made.status is A.PENDING and made.requester == "bob"
    assert made.requester_identity == "slack:T01:U02"
    assert made.expires_at == START + timedelta(minutes=10)
    assert await harness.service.get(made.id) == made
    assert await harness.service.list_pending() == [made]
    [entry] = await harness.audit.list()
    assert (entry.kind, entry.user, entry.identity, entry.place) == (
        "approval.create",
        "bob",
        "slack:T01:U02",
        WHERE,
    )
    assert entry.subject["approval"] == made.id and entry.subject["alias"] == "ops.restart"


async def test_requester_and_non_approvers_are_refused(harness: Harness) -> None:
    made = await harness.service.create(RESTART, requester=BOB, place=WHERE)
    with pytest.raises(ApprovalRefused, match=r"bob requested approval \w+ and may not answer it"):
        await harness.service.respond(made.id, BOB, {"approved": True}, WHERE)
    with pytest.raises(
        ApprovalRefused, match=r"dave may not answer .*\(approvers: none; roles: ops\)"
    ):
        await harness.service.respond(made.id, DAVE, {"approved": True}, WHERE)
    assert (await harness.service.get(made.id)) == made
    refusals = [e for e in await harness.audit.list() if e.kind == "approval.refuse"]
    assert [(e.user, e.allowed) for e in refusals] == [("dave", False), ("bob", False)]
    assert harness.notified == []


async def test_role_member_approves_and_the_decision_is_recorded(harness: Harness) -> None:
    made = await harness.service.create(RESTART, requester=BOB, place=WHERE)
    harness.clock.now = START + timedelta(minutes=1)
    there = {**WHERE, "message": "m2"}
    decided = await harness.service.respond(made.id, ALICE, {"approved": True}, there)
    assert decided.status is A.APPROVED
    assert (decided.decided_by, decided.decided_at, decided.decided_from) == (
        "alice",
        harness.clock.now,
        there,
    )
    assert await harness.service.get(made.id) == decided
    assert harness.notified == [decided]
    assert await harness.service.list_pending() == []
    latest = (await harness.audit.list(limit=1))[0]
    assert (latest.kind, latest.user, latest.reason, latest.place) == (
        "approval.decide",
        "alice",
        "approved",
        there,
    )
    with pytest.raises(ApprovalRefused, match="was already approved by alice"):
        await harness.service.respond(made.id, CAROL, {"approved": False}, WHERE)


async def test_named_approver_denies(harness: Harness) -> None:
    request = ApprovalRequest(title="drop table", subject={}, approvers=("dave",))
    made = await harness.service.create(request, requester=BOB, place=WHERE)
    with pytest.raises(ApprovalRefused, match="alice may not answer"):
        await harness.service.respond(made.id, ALICE, {"approved": True}, WHERE)
    decided = await harness.service.respond(made.id, DAVE, {"approved": False}, WHERE)
    assert decided.status is A.DENIED and decided.response == {"approved": False}


async def test_requester_may_approve_when_allowed(harness: Harness) -> None:
    request = ApprovalRequest(title="t", subject={}, approvers=("bob",), requester_may_approve=True)
    made = await harness.service.create(request, requester=BOB, place=WHERE)
    decided = await harness.service.respond(made.id, BOB, {"approved": True}, WHERE)
    assert decided.status is A.APPROVED


@pytest.mark.parametrize(
    ("response", "error"),
    [
        ({"approved": "yes"}, "approved: 'yes' is not of type 'boolean'"),
        ({}, "response: 'approved' is a required property"),
        ({"approved": True, "force": True}, "Additional properties are not allowed"),
    ],
)
async def test_responses_must_fit_the_schema(
    harness: Harness, response: dict[str, object], error: str
) -> None:
    made = await harness.service.create(RESTART, requester=BOB, place=WHERE)
    with pytest.raises(ApprovalRefused, match="invalid response") as caught:
        await harness.service.respond(made.id, ALICE, response, WHERE)
    assert error in caught.value.reason
    assert (await harness.service.get(made.id)) == made


async def test_custom_schema_collects_data(harness: Harness) -> None:
    schema = {
        "type": "object",
        "properties": {"reason": {"type": "string", "minLength": 3}},
        "required": ["reason"],
    }
    request = ApprovalRequest(title="why?", subject={}, approvers=("alice",), schema=schema)
    made = await harness.service.create(request, requester=BOB, place=WHERE)
    with pytest.raises(ApprovalRefused, match="reason: 'no' is too short"):
        await harness.service.respond(made.id, ALICE, {"reason": "no"}, WHERE)
    decided = await harness.service.respond(made.id, ALICE, {"reason": "maintenance"}, WHERE)
    assert decided.status is A.APPROVED and decided.response == {"reason": "maintenance"}


async def test_bad_requests_are_refused_at_create(harness: Harness) -> None:
    with pytest.raises(ValueError, match="name approvers or approver_roles"):
        await harness.service.create(ApprovalRequest("t", {}), requester=BOB, place=WHERE)
    bad = ApprovalRequest("t", {}, approvers=("a",), schema={"type": "nonsense"})
    with pytest.raises(ValueError, match="invalid schema"):
        await harness.service.create(bad, requester=BOB, place=WHERE)
    with pytest.raises(ValueError, match="ttl must be positive"):
        short = ApprovalRequest("t", {}, approvers=("a",), ttl=timedelta(0))
        await harness.service.create(short, requester=BOB, place=WHERE)
    assert await harness.service.list_pending() == []


async def test_two_simultaneous_answers_make_one_decision(harness: Harness) -> None:
    made = await harness.service.create(RESTART, requester=BOB, place=WHERE)
    results = await asyncio.gather(
        harness.service.respond(made.id, ALICE, {"approved": True}, WHERE),
        harness.service.respond(made.id, CAROL, {"approved": False}, WHERE),
        return_exceptions=True,
    )
    [winner] = [r for r in results if isinstance(r, Approval)]
    [loser] = [r for r in results if isinstance(r, ApprovalRefused)]
    assert loser.reason == f"approval {made.id} was already {winner.status} by {winner.decided_by}"
    assert await harness.service.get(made.id) == winner
    assert harness.notified == [winner]
    kinds = [e.kind for e in await harness.audit.list()]
    assert kinds.count("approval.decide") == 1 and kinds.count("approval.refuse") == 1


async def test_two_connections_to_one_sqlite_file_make_one_decision(tmp_path: Path) -> None:
    first, second = SqliteStore(tmp_path / "s.db"), SqliteStore(tmp_path / "s.db")
    await first.open()
    await second.open()
    try:
        one, two = Harness(first), Harness(second)
        for _ in range(20):  # many rounds: the interleaving differs between them
            made = await one.service.create(RESTART, requester=BOB, place=WHERE)
            results = await asyncio.gather(
                one.service.respond(made.id, ALICE, {"approved": True}, WHERE),
                two.service.respond(made.id, CAROL, {"approved": False}, WHERE),
                return_exceptions=True,
            )
            winners = [r for r in results if isinstance(r, Approval)]
            assert len(winners) == 1, results
            assert sum(isinstance(r, ApprovalRefused) for r in results) == 1
            assert await two.service.get(made.id) == winners[0]
        assert len(one.notified) + len(two.notified) == 20
    finally:
        await first.close()
        await second.close()


async def test_expire_due_expires_once_and_late_answers_are_refused(harness: Harness) -> None:
    made = await harness.service.create(RESTART, requester=BOB, place=WHERE)
    keep = await harness.service.create(
        ApprovalRequest("no ttl", {}, approvers=("alice",)), requester=BOB, place=WHERE
    )
    harness.clock.now = START + timedelta(minutes=9)
    assert await harness.service.expire_due() == []
    harness.clock.now = START + timedelta(minutes=10)
    [expired] = await harness.service.expire_due()
    assert expired.id == made.id and expired.status is A.EXPIRED
    assert expired.decided_at == harness.clock.now and expired.decided_by is None
    assert await harness.service.expire_due() == []
    assert harness.notified == [expired]
    with pytest.raises(ApprovalRefused, match=f"approval {made.id} expired at 2025-03-01T12:10"):
        await harness.service.respond(made.id, ALICE, {"approved": True}, WHERE)
    assert await harness.service.list_pending() == [keep]


async def test_an_answer_after_the_ttl_expires_it_even_before_the_sweep(harness: Harness) -> None:
    made = await harness.service.create(RESTART, requester=BOB, place=WHERE)
    harness.clock.now = START + timedelta(hours=1)
    with pytest.raises(ApprovalRefused, match="expired"):
        await harness.service.respond(made.id, ALICE, {"approved": True}, WHERE)
    stored = await harness.service.get(made.id)
    assert stored is not None and stored.status is A.EXPIRED
    assert [a.status for a in harness.notified] == [A.EXPIRED]


async def test_requester_cancels_others_may_not(harness: Harness) -> None:
    made = await harness.service.create(RESTART, requester=BOB, place=WHERE)
    with pytest.raises(ApprovalRefused, match=r"only the requester \(bob\) may cancel"):
        await harness.service.cancel(made.id, ALICE, WHERE)
    canceled = await harness.service.cancel(made.id, BOB, WHERE)
    assert canceled.status is A.CANCELED and canceled.decided_by == "bob"
    with pytest.raises(ApprovalRefused, match="was already canceled by bob"):
        await harness.service.respond(made.id, ALICE, {"approved": True}, WHERE)
    with pytest.raises(ApprovalRefused, match="was already canceled by bob"):
        await harness.service.cancel(made.id, BOB, WHERE)
    refusals = [e.user for e in await harness.audit.list() if e.kind == "approval.refuse"]
    assert refusals == ["bob", "alice", "alice"]


async def test_unknown_approval(harness: Harness) -> None:
    with pytest.raises(ApprovalRefused, match="there is no approval nope"):
        await harness.service.respond("nope", ALICE, {"approved": True}, WHERE)
    [entry] = await harness.audit.list()
    assert (entry.kind, entry.user, entry.subject, entry.allowed) == (
        "approval.refuse",
        "alice",
        {"approval": "nope"},
        False,
    )


async def test_a_failing_subscriber_does_not_hide_the_decision(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(approval: Approval) -> None:
        raise RuntimeError("subscriber bug")

    harness.service.subscribe(broken)
    made = await harness.service.create(RESTART, requester=BOB, place=WHERE)
    decided = await harness.service.respond(made.id, ALICE, {"approved": True}, WHERE)
    assert harness.notified == [decided]
    assert "approval listener failed" in caplog.text


async def test_alias_style_approver_entries(harness: Harness) -> None:
    users, roles = split_approvers(["dave", "role:ops", "role:dba"])
    assert (users, roles) == (("dave",), ("ops", "dba"))
    request = ApprovalRequest("t", {}, approvers=users, approver_roles=roles)
    made = await harness.service.create(request, requester=ALICE, place=WHERE)
    decided = await harness.service.respond(made.id, CAROL, {"approved": True}, WHERE)
    assert decided.decided_by == "carol"


async def test_the_live_sweep_of_serve_expires_an_approval_and_ends_its_execution(
    tmp_path: Path,
) -> None:
    """``_sweep_approvals`` (bot/app.py), the task ``serve`` runs: nobody calls expire_due
    here; the sweep notices the TTL passed and the gate ends the held execution."""
    async with open_engine(load_settings(write_config(tmp_path))) as engine:
        gated = GatedRequest(
            action_ref="core.noop", parameters={}, context={"user": "alice"},
            title="run noop?", approvers=("bob",), approver_roles=(),
            ttl=timedelta(milliseconds=50),
        )  # fmt: skip
        held, approval = await engine.gate.request(
            gated, requester=SquallUser("alice", ("default",)), place=WHERE
        )
        deadline = APPROVAL_SWEEP_SECONDS * 5  # bounded: a few sweeps on a busy machine
        async with asyncio.timeout(deadline):
            while (await engine.approvals.get(approval.id)).status is not A.EXPIRED:
                await asyncio.sleep(0.05)
            while not (await engine.executions.get(held.id)).is_completed:  # type: ignore[union-attr]
                await asyncio.sleep(0.05)
        ended = await engine.executions.get(held.id)
        assert ended is not None and ended.status is ExecutionStatus.TIMEOUT

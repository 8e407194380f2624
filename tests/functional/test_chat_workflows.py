"""Workflows from chat through the console adapter: inquiry approval cards and progress cards.

alice (ops) starts workflows; bob and erin may answer the inquiry of flows.ask; carol may not.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import replace
from pathlib import Path

from adapters.console.testing import Posted, TestChat
from bot.chat.runtime import ChatRuntime
from core.models import ExecutionStatus
from core.models.approval import Approval, ApprovalStatus
from core.store import ExecutionQuery
from tests.conftest import FIXTURES, wait_execution
from tests.functional.harness import running

S = ExecutionStatus
USERS = """
users:
  alice: {identities: ["console:local:alice"], roles: [ops]}
  bob: {identities: ["console:local:bob"]}
  erin: {identities: ["console:local:erin"]}
  carol: {identities: ["console:local:carol"]}
roles:
  ops:
    - allow: {actions: ["flows.*"]}
"""


def config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "squall.yaml"
    path.write_text(
        "store: {url: 'sqlite:///var/squall.db'}\n"
        f"packs: {{paths: ['{FIXTURES / 'workflow_pack'}']}}\n"
        "http: {enabled: false}\n"
        "executions: {max_concurrency: 8, python_fork_server: false}\n"
        "workflows: {progress_interval_seconds: 0.05}\n"
        f"{extra}{USERS}"
    )
    return path


def is_approval_card(posted: Posted) -> bool:
    return posted.message.approval is not None and not posted.edited


async def start_ask(chat: TestChat, runtime: ChatRuntime) -> tuple[str, Posted, Approval]:
    """Run flows.ask as alice: the workflow's id, the approval card it posted, its approval."""
    chat.push("run flows.ask", user_id="alice")
    card = await chat.wait_for(is_approval_card)
    assert card.message.approval is not None
    engine = runtime.commands.engine
    [workflow] = await engine.store.executions.list(ExecutionQuery(action_ref="flows.ask"))
    return workflow.id, card, card.message.approval


async def test_an_inquiry_asks_in_chat_and_an_allowed_approve_resumes(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat) as runtime:
        engine = runtime.commands.engine
        workflow_id, card, approval = await start_ask(chat, runtime)
        assert card.message.title == "approve: waiting for an answer"
        assert [b.command for b in card.message.buttons] == [
            f"approve {approval.id}", f"deny {approval.id}"]  # fmt: skip
        assert "reason (string)" in card.message.text
        paused = await wait_execution(engine, workflow_id, S.PAUSED)
        assert paused.status is S.PAUSED

        chat.push(f"approve {approval.id}", user_id="carol")
        refusal = await chat.wait_for(lambda p: "carol may not answer" in p.text)
        assert refusal.message.ephemeral
        assert (await engine.approvals.get(approval.id)).status is ApprovalStatus.PENDING  # type: ignore[union-attr]
        assert (await engine.store.executions.get(workflow_id)).status is S.PAUSED  # type: ignore[union-attr]

        chat.push(card.message.buttons[0].command, user_id="bob")  # the Approve button
        outcome = await chat.wait_for(lambda p: p.edited and p.message_id == card.message_id)
        assert "approved by bob" in outcome.text
        done = await engine.executions.wait(workflow_id, timeout=10)
        assert done.status is S.SUCCEEDED
        assert done.result == {"output": {"reason": "none given"}}
        tasks = await engine.store.executions.list(ExecutionQuery(parent=workflow_id))
        names = {t.context["orquesta"]["task_name"]: t for t in tasks}
        assert "go" in names and "stop" not in names
        [asked] = await engine.store.trigger_instances.list(trigger="core.st2.generic.inquiry")
        assert asked.payload == {"id": approval.id, "route": ""}
        assert names["approve"].result["response"] == {"approved": True, "reason": "none given"}  # type: ignore[index]


async def test_deny_takes_the_other_branch(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat) as runtime:
        engine = runtime.commands.engine
        workflow_id, _, approval = await start_ask(chat, runtime)
        chat.push(
            f'respond {approval.id} {{"approved": false, "reason": "not today"}}', user_id="erin"
        )
        done = await engine.executions.wait(workflow_id, timeout=10)
        assert done.status is S.SUCCEEDED
        tasks = await engine.store.executions.list(ExecutionQuery(parent=workflow_id))
        assert "stop" in {t.context["orquesta"]["task_name"] for t in tasks}


async def test_two_simultaneous_answers_make_exactly_one_decision(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat) as runtime:
        engine = runtime.commands.engine
        workflow_id, _, approval = await start_ask(chat, runtime)
        chat.push(f"approve {approval.id}", user_id="bob")
        chat.push(f"deny {approval.id}", user_id="erin")
        loser = await chat.wait_for(lambda p: "was already" in p.text)
        assert loser.message.ephemeral
        decided = await engine.approvals.get(approval.id)
        assert decided is not None and decided.status in (ApprovalStatus.APPROVED,
                                                          ApprovalStatus.DENIED)  # fmt: skip
        assert decided.decided_by in ("bob", "erin") and decided.decided_by in loser.text
        done = await engine.executions.wait(workflow_id, timeout=10)
        tasks = await engine.store.executions.list(ExecutionQuery(parent=workflow_id))
        branches = {t.context["orquesta"]["task_name"] for t in tasks} & {"go", "stop"}
        assert done.status is S.SUCCEEDED and len(branches) == 1
        audit = [e for e in await engine.audit.list(limit=50) if e.kind == "approval.decide"]
        assert len(audit) == 1


async def test_an_unanswered_inquiry_times_out_and_the_workflow_handles_it(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat) as runtime:
        engine = runtime.commands.engine
        requested = await engine.executions.request(
            "flows.ask_quick", {}, context={"user": "alice"}
        )
        await wait_execution(engine, requested.id, S.PAUSED)
        [pending] = await engine.approvals.list_pending()
        assert pending.expires_at is not None  # one minute: let it pass without waiting
        await engine.store.approvals.replace(
            replace(pending, expires_at=pending.created_at), expected_status=pending.status
        )
        await engine.approvals.expire_due()
        done = await engine.executions.wait(requested.id, timeout=30)
        assert done.status is S.SUCCEEDED, done.result
        tasks = await engine.store.executions.list(ExecutionQuery(parent=requested.id))
        by_name = {t.context["orquesta"]["task_name"]: t for t in tasks}
        assert by_name["approve"].status is S.TIMEOUT
        assert "expired" in by_name


async def test_a_workflow_run_card_shows_progress_then_the_result(tmp_path: Path) -> None:
    chat = TestChat()
    interval = 0.3
    path = (
        config(tmp_path)
        .read_text()
        .replace("progress_interval_seconds: 0.05", f"progress_interval_seconds: {interval}")
    )
    (tmp_path / "squall.yaml").write_text(path)
    edits: list[tuple[float, Posted]] = []
    chat.add_observer(lambda p: edits.append((time.monotonic(), p)) if p.edited else None)
    async with running(tmp_path / "squall.yaml", chat) as runtime:
        names = json.dumps([f"n{i}" for i in range(24)])
        chat.push(f"run flows.items names='{names}' concurrency=3", user_id="alice")
        ack = await chat.next_message()

        def finished(p: Posted) -> bool:
            return p.edited and p.message_id == ack.message_id and p.message.status == "succeeded"

        done = await chat.wait_for(finished, timeout=30)
        engine = runtime.commands.engine
        [workflow] = await engine.store.executions.list(ExecutionQuery(action_ref="flows.items"))
    mine = [(at, p) for at, p in edits if p.message_id == ack.message_id]
    progress = [(at, p) for at, p in mine if p.message.text.startswith("tasks:")]
    assert progress, "no progress edit"
    assert "done" in progress[-1][1].message.text and "running" in progress[-1][1].message.text
    posted = [p for p in chat.posted if not p.edited]
    assert [p.message_id for p in posted] == [ack.message_id]  # tasks post nothing of their own
    assert mine[-1][1] is done  # the result edit comes last
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(progress)]
    assert all(gap >= interval * 0.9 for gap in gaps), gaps  # throttled
    assert len(progress) < 24 * 3  # far fewer edits than task status changes
    assert workflow.status is S.SUCCEEDED


async def test_an_open_inquiry_goes_to_its_route_and_self_answers_can_be_refused(
    tmp_path: Path,
) -> None:
    chat = TestChat()
    extra = "routes: {ops: {adapter: console, channel: alerts}}\n"
    path = (
        config(tmp_path, extra)
        .read_text()
        .replace(
            "workflows: {progress_interval_seconds: 0.05}",
            "workflows: {progress_interval_seconds: 0.05, inquiry_self_response: false}",
        )
    )
    (tmp_path / "squall.yaml").write_text(path)
    async with running(tmp_path / "squall.yaml", chat) as runtime:
        engine = runtime.commands.engine
        chat.push("run flows.ask_anyone", user_id="alice")
        card = await chat.wait_for(is_approval_card)
        assert card.place.channel == "alerts"  # the inquiry's route
        approval = card.message.approval
        assert approval is not None and approval.approvers == ("*",)
        assert [b.label for b in card.message.buttons] == ["Approve", "Deny"]  # st2's `continue`
        chat.push(f"approve {approval.id}", user_id="alice")
        refusal = await chat.wait_for(lambda p: "may not answer" in p.text)
        assert "alice requested" in refusal.text
        chat.push(f"approve {approval.id}", user_id="carol")  # anyone else may
        [workflow] = await engine.store.executions.list(
            ExecutionQuery(action_ref="flows.ask_anyone")
        )
        done = await engine.executions.wait(workflow.id, timeout=10)
        assert done.status is S.SUCCEEDED
        [question] = await engine.store.executions.list(ExecutionQuery(parent=workflow.id))
        assert question.result["response"] == {"continue": True}  # type: ignore[index]
        assert question.result["responded_by"] == "carol"  # type: ignore[index]

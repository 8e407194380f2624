"""Card edits across processes on one SQLite store: two engines in this process stand for two
``serve`` processes — A holds the chat (roles chat,timers: it runs nothing), B runs every
execution (role engine, no chat). What B changes reaches the cards A posted through the store's
chat outbox: a workflow's progress edits (throttled, the result edit last, a stale one after
it ignored) and the outcome of an inquiry or of an approval-gated alias decided on B.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from motor.motor_asyncio import AsyncIOMotorClient

from adapters.console.testing import Posted, TestChat
from bot.app import Engine, open_engine
from bot.chat.loop import close_adapters
from bot.chat.relay import PROGRESS, RUNNING
from bot.chat.runtime import ChatRuntime, open_chat
from bot.settings import load_settings
from core.models import ExecutionStatus
from core.models.approval import ApprovalStatus
from core.models.lease import OutboxItem
from core.store import ExecutionQuery
from tests.conftest import FIXTURES
from tests.functional.test_chat_aliases import USERS as ALIAS_USERS
from tests.functional.test_chat_workflows import USERS, is_approval_card

pytestmark = pytest.mark.timeout(120)
S = ExecutionStatus
INTERVAL = 0.3


def write_config(
    tmp_path: Path,
    name: str,
    roles: str,
    pack: Path = FIXTURES / "workflow_pack",
    users: str = USERS,
    store: str = "sqlite:///var/squall.db",
) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(
        f"store: {{url: '{store}'}}\n"
        f"packs: {{paths: ['{pack}']}}\n"
        "http: {enabled: false}\n"
        "executions: {max_concurrency: 8, python_fork_server: false}\n"
        f"workflows: {{progress_interval_seconds: {INTERVAL}}}\n"
        f"cluster: {{roles: [{roles}], outbox_poll_seconds: 0.05}}\n"
        f"{users}"
    )
    return path


@contextlib.asynccontextmanager
async def two_processes(
    tmp_path: Path, chat: TestChat, **options: Any
) -> AsyncIterator[tuple[ChatRuntime, Engine]]:
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(close_adapters, [chat.adapter])
        a = await stack.enter_async_context(
            open_engine(load_settings(write_config(tmp_path, "a", "chat, timers", **options)))
        )
        runtime = await stack.enter_async_context(open_chat(a, [chat.adapter]))
        b = await stack.enter_async_context(
            open_engine(load_settings(write_config(tmp_path, "b", "engine", **options)))
        )
        yield runtime, b


async def test_progress_of_a_workflow_run_on_b_edits_the_card_on_a(tmp_path: Path) -> None:
    chat = TestChat()
    async with two_processes(tmp_path, chat) as (_, b):
        relayed: list[float] = []  # when B stored a progress item
        put = b.store.outbox.put

        async def spy(item: OutboxItem) -> bool:
            if item.kind == PROGRESS:
                relayed.append(time.monotonic())
            return await put(item)

        b.store.outbox.put = spy  # type: ignore[method-assign]
        names = json.dumps([f"n{i}" for i in range(12)])
        # Items that take a moment (12 of 0.15 s, 3 at a time): a workflow that ends before A
        # first polls the outbox shows its result alone, with no progress edit to check.
        chat.push(
            f"run flows.items_paced names='{names}' concurrency=3 pause=0.15", user_id="alice"
        )
        ack = await chat.next_message()

        def finished(p: Posted) -> bool:
            return p.edited and p.message_id == ack.message_id and p.message.status == "succeeded"

        await chat.wait_for(finished, timeout=60)
        b.store.outbox.put = put  # type: ignore[method-assign]
        [workflow] = await b.store.executions.list(ExecutionQuery(action_ref="flows.items_paced"))
        tasks = await b.store.executions.list(ExecutionQuery(parent=workflow.id))
        # A stale progress item delivered after the result changes nothing.
        await b.store.outbox.put(OutboxItem.new("chat:console", PROGRESS, workflow.id))
        # Outbox items of a finished workflow are all delivered (a late trailing one too).
        for _ in range(100):
            if await b.store.outbox.count() == 0:
                break
            await asyncio.sleep(0.05)
        left = await b.store.outbox.count()
    assert workflow.owner == str(b.executions.owner) and workflow.status is S.SUCCEEDED
    assert tasks and {t.owner for t in tasks} == {str(b.executions.owner)}
    mine = [p for p in chat.posted if p.message_id == ack.message_id]
    progress = [p for p in mine if p.edited and p.message.text.startswith("tasks:")]
    assert progress, "no progress edit reached A's card"
    assert "done" in progress[-1].message.text and "latest: " in progress[-1].message.text
    assert mine[-1].message.status == "succeeded", "the result edit comes last"
    assert len(progress) < len(tasks) * 2, "progress edits are coalesced"
    # B stores at most one progress item per interval per workflow (its tasks changed status
    # three times each: 36 changes).
    assert relayed, "B relayed no progress"
    gaps = [later - earlier for earlier, later in itertools.pairwise(relayed)]
    assert all(gap >= INTERVAL * 0.9 for gap in gaps), gaps
    assert [p.message_id for p in chat.posted if not p.edited] == [ack.message_id]
    assert left == 0


async def test_an_inquiry_decided_on_b_edits_its_card_on_a(tmp_path: Path) -> None:
    chat = TestChat()
    async with two_processes(tmp_path, chat) as (_, b):
        chat.push("run flows.ask", user_id="alice")
        card = await chat.wait_for(is_approval_card, timeout=30)
        approval = card.message.approval
        assert approval is not None
        bob = b.authz.user_named("bob")
        assert bob is not None
        decided = await b.approvals.respond(
            approval.id, bob, {"approved": True}, {"adapter": "cli"}
        )
        assert decided.status is ApprovalStatus.APPROVED
        outcome = await chat.wait_for(
            lambda p: p.edited and p.message_id == card.message_id, timeout=30
        )
        [workflow] = await b.store.executions.list(ExecutionQuery(action_ref="flows.ask"))
        done = await b.executions.wait(workflow.id, timeout=30)
    assert "approved by bob" in outcome.text
    assert done.status is S.SUCCEEDED
    edits = [p for p in chat.posted if p.edited and p.message_id == card.message_id]
    assert len(edits) == 1, "the outcome is shown once"


async def test_an_approval_decided_on_b_edits_the_card_a_posted(tmp_path: Path) -> None:
    chat = TestChat()
    options = {"pack": FIXTURES / "chat", "users": ALIAS_USERS}
    async with two_processes(tmp_path, chat, **options) as (_, b):
        chat.push("deploy web to prod", user_id="alice")
        card = await chat.next_message()
        approval = card.message.approval
        assert approval is not None and card.message.status == "awaiting approval"
        bob = b.authz.user_named("bob")
        assert bob is not None
        await b.approvals.respond(approval.id, bob, {"approved": True}, {"adapter": "cli"})
        outcome = await chat.wait_for(lambda p: p.message_id == card.message_id and p.edited)
        result = await chat.wait_for(lambda p: p.message.text == "deployed web to prod")
        [held] = await b.store.executions.list(ExecutionQuery(action_ref="chat_demo.deploy"))
    assert outcome.message.text.startswith("approved by bob at ")
    assert outcome.message.buttons == ()
    assert held.status is S.SUCCEEDED and held.owner == str(b.executions.owner)
    assert result.place == card.place


RUNNER_USERS = """
users:
  alice: {identities: ["console:local:alice"], roles: [ops]}
roles:
  ops:
    - allow: {actions: ["core.local"]}
"""


@pytest.fixture(params=["sqlite", "mongo"])
async def store_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield "sqlite:///var/squall.db"
        return
    server = str(request.getfixturevalue("mongo_url"))
    database = f"squall_relay_{uuid.uuid4().hex[:12]}"
    yield server.rstrip("/") + "/" + database
    client: Any = AsyncIOMotorClient(server)
    await client.drop_database(database)
    client.close()


async def test_a_plain_run_on_b_shows_running_then_its_result_on_the_card_a_posted(
    tmp_path: Path, store_url: str
) -> None:
    chat = TestChat()
    options = {"users": RUNNER_USERS, "store": store_url}
    async with two_processes(tmp_path, chat, **options) as (_, b):
        kinds: list[str] = []
        put = b.store.outbox.put

        async def spy(item: OutboxItem) -> bool:
            kinds.append(item.kind)
            return await put(item)

        b.store.outbox.put = spy  # type: ignore[method-assign]
        chat.push("run core.local cmd='sleep 2; echo slept'", user_id="alice")
        ack = await chat.next_message()
        mine = lambda p: p.edited and p.message_id == ack.message_id  # noqa: E731
        running = await chat.wait_for(lambda p: mine(p) and p.message.status == "running")
        result = await chat.wait_for(lambda p: mine(p) and p.message.status == "succeeded")
        # A quick run goes straight to its result: no running item, no running edit.
        chat.push("run core.local cmd='echo quick'", user_id="alice")
        quick_ack = await chat.next_message()
        quick = await chat.wait_for(
            lambda p: p.edited and p.message_id == quick_ack.message_id, timeout=30
        )
        [slow] = await b.store.executions.list(ExecutionQuery(action_ref="core.local", limit=1))
        await asyncio.sleep(1.5)  # a late running item would be put and delivered by now
    assert ack.message.status != "running" and slow.owner == str(b.executions.owner)
    assert "running" in running.text and "slept" in result.text
    assert quick.message.status == "succeeded" and "quick" in quick.text
    edits = [p.message.status for p in chat.posted if p.edited]
    assert edits == ["running", "succeeded", "succeeded"], edits
    assert kinds.count(RUNNING) == 1, kinds


async def test_a_process_holding_the_chat_stores_no_progress_items(tmp_path: Path) -> None:
    """One process with every role edits its cards itself: nothing goes through the store."""
    chat = TestChat()
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(close_adapters, [chat.adapter])
        path = write_config(tmp_path, "alone", "engine, chat, timers")
        engine = await stack.enter_async_context(open_engine(load_settings(path)))
        await stack.enter_async_context(open_chat(engine, [chat.adapter]))
        puts: list[str] = []
        put = engine.store.outbox.put

        async def counting(item: object) -> bool:
            puts.append(getattr(item, "kind", ""))
            return await put(item)  # type: ignore[arg-type]

        engine.store.outbox.put = counting  # type: ignore[method-assign]
        names = json.dumps([f"n{i}" for i in range(6)])
        chat.push(f"run flows.items names='{names}'", user_id="alice")
        ack = await chat.next_message()
        await chat.wait_for(
            lambda p: (
                p.edited and p.message_id == ack.message_id and p.message.status == "succeeded"
            ),
            timeout=30,
        )
    assert PROGRESS not in puts and puts == []

"""Chat end to end through the console adapter: aliases, permissions, approvals, built-ins.

Several people talk through one TestChat (``user_id=``); each is a Squall user by the identity
``console:local:<id>``. alice and dave are ops, bob approves, carol has only the default role.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from adapters.console.testing import Posted, TestChat
from core.models import ExecutionStatus
from core.models.approval import ApprovalStatus
from core.store import ExecutionQuery
from tests.functional.harness import CHAT_ENGINE, running

T = TypeVar("T")

USERS = """
users:
  console: {identities: ["console:local:console"], roles: [admin]}
  alice: {identities: ["console:local:alice"], roles: [ops]}
  dave: {identities: ["console:local:dave"], roles: [ops]}
  bob: {identities: ["console:local:bob"], roles: [approvers]}
  carol: {identities: ["console:local:carol"]}
roles:
  ops:
    - allow: {actions: ["core.echo", "core.noop", "chat_demo.*"]}
    - allow: {actions: ["core.local"], parameters: {cmd: "^uptime$"}}
  approvers: []
"""


def config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "squall.yaml"
    path.write_text(
        CHAT_ENGINE + "routes: {ops: {adapter: console, channel: alerts}}\n" + extra + USERS
    )
    return path


def titled(title: str, *, edited: bool | None = None) -> Callable[[Posted], bool]:
    def check(posted: Posted) -> bool:
        return posted.message.title == title and (edited is None or posted.edited is edited)

    return check


def saying(text: str) -> Callable[[Posted], bool]:
    return lambda posted: text in posted.text


async def test_help_lists_only_what_the_user_may_run(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat):
        chat.push("help", user_id="alice")
        alice = (await chat.next_message()).text
        assert "greet {{message=world}}" in alice and "deploy {{service}} to {{env}}" in alice
        assert "shell {{cmd}}" in alice  # allowed for some values of cmd
        chat.push("help", user_id="carol")
        carol = await chat.next_message()
        assert "No aliases you can run." in carol.text and "greet" not in carol.text
        assert "approve ID" in carol.text  # built-ins are for everyone
        assert carol.message.ephemeral and carol.message.audience == "carol"
        chat.push("help deploy", user_id="alice")
        filtered = (await chat.next_message()).text
        assert "deploy {{service}}" in filtered and "greet" not in filtered


async def test_alias_ack_then_result_in_the_same_card(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat) as runtime:
        chat.push("greet “Big World”", user_id="alice")  # smart quotes typed on a phone
        ack = await chat.next_message()
        assert ack.message.text == "greeting Big World" and ack.message.status == "requested"
        assert ack.message.extra == {"slack": {"color": "requested"}}
        done = await chat.wait_for(lambda p: p.edited)
        assert done.message_id == ack.message_id
        assert (done.message.pretext, done.message.text) == ("Greeted", "Big World")
        assert [b.label for b in done.message.buttons] == ["Re-run"]
        [execution] = await runtime.cards.executions.store.executions.list(ExecutionQuery())
        assert execution.context["user"] == "alice"
        assert execution.context["action_alias_ref"] == "chat_demo.greet"
        assert execution.context["chat"]["adapter"] == "console"
        assert execution.context["source_channel"] == "console"


async def test_disabled_ack_and_disabled_result(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat):
        chat.push("silent", user_id="alice")
        only = await chat.next_message()
        assert not only.edited and only.message.text == "silent succeeded"
        chat.push("quiet", user_id="alice")
        ack = await chat.next_message()
        assert ack.message.text == "quietly"
        final = await chat.wait_for(lambda p: p.edited)
        assert final.message.status == "succeeded" and final.message.text == ""
        assert final.message.code is None


async def test_a_refusal_is_private_audited_and_runs_nothing(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat) as runtime:
        chat.push("greet you", user_id="carol")
        refusal = await chat.next_message()
        assert refusal.message.ephemeral
        assert refusal.message.text.startswith("You may not run core.echo: no rule of role(s)")
        engine = runtime.commands.engine
        assert await engine.store.executions.list(ExecutionQuery()) == []
        [entry] = await engine.audit.list(user="carol")
        assert entry.allowed is False and entry.subject["alias"] == "chat_demo.greet"
        assert entry.identity == "console:local:carol"


async def test_parameter_constraint_blocks_rm_but_allows_uptime(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat) as runtime:
        chat.push('shell "rm -rf /"', user_id="alice")
        refusal = await chat.next_message()
        assert "parameter 'cmd' does not match '^uptime$'" in refusal.message.text
        assert "rm -rf" not in refusal.message.text  # values are never quoted back
        chat.push("shell uptime", user_id="alice")
        done = await chat.wait_for(titled("core.local", edited=True), timeout=20)
        assert done.message.status == "succeeded"
        entries = await runtime.commands.engine.audit.list(user="alice")
        assert [e.allowed for e in entries] == [True, False]


async def test_chat_text_is_data_never_a_template(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat) as runtime:
        await runtime.commands.engine.kv.set("secret", "hunter2")
        chat.push("greet {{ st2kv.system.secret }}$(id)", user_id="alice")
        done = await chat.wait_for(lambda p: p.edited)
        assert done.message.text == "{{ st2kv.system.secret }}$(id)"
        assert all("hunter2" not in p.text and "uid=" not in p.text for p in chat.posted)


async def test_control_characters_are_refused_unless_allowed(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat):
        chat.push("greet a\x1b[31mred", user_id="alice")
        refused = await chat.next_message()
        assert "parameter 'message': control characters" in refused.message.text
        chat.push("note line1\x1bline2", user_id="alice")  # chat_demo.tagged.note allows them
        done = await chat.wait_for(titled("chat_demo.tagged", edited=True))
        assert done.message.status == "succeeded"


async def test_most_specific_format_wins_and_values_are_cast(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat):
        chat.push("ping 8.8.8.8 count 3", user_id="alice")
        done = await chat.wait_for(titled("chat_demo.ping", edited=True))
        assert done.message.text == "8.8.8.8 x3"
        chat.push("tag a, b,c", user_id="alice")
        tagged = await chat.wait_for(titled("chat_demo.tagged", edited=True))
        assert tagged.message.text.startswith('["a", "b", "c"]')


async def test_match_multiple_starts_one_execution_per_match(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat):
        chat.push("X-4 is a duplicate of ABC-24 which is a duplicate of DEF-12", user_id="alice")
        first = await chat.wait_for(saying("dupe ABC-24"))
        second = await chat.wait_for(saying("dupe DEF-12"))
        assert first.message_id != second.message_id


async def test_run_is_a_builtin_only_for_an_action_ref(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat):
        chat.push("run date on localhost", user_id="alice")
        alias = await chat.wait_for(titled("chat_demo.remote_like", edited=True))
        assert alias.message.text == "date on localhost"
        chat.push("run core.noop", user_id="alice")
        builtin = await chat.wait_for(titled("core.noop", edited=True))
        assert builtin.message.status == "succeeded"


async def test_unknown_and_ambiguous_commands_say_so(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat):
        chat.push("frobnicate now", user_id="alice")
        assert (await chat.next_message()).message.text == "I don't know 'frobnicate'. Type help."


async def test_a_known_word_with_arguments_that_do_not_fit_shows_its_formats(
    tmp_path: Path,
) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat):
        chat.push("ping", user_id="alice")  # `ping {{host}}` needs a host
        about = "Ping a host (two formats, the more specific one wins)."
        assert (await chat.next_message()).message.text == (
            "That does not fit 'ping'. Usage:\n"
            f"  ping {{{{host}}}}  —  {about}\n"
            f"  ping {{{{host}}}} count {{{{count}}}}  —  {about}"
        )
        chat.push("deploy web", user_id="carol")  # carol may not see deploy: nothing to show
        assert (await chat.next_message()).message.text == "I don't know 'deploy'. Type help."


async def test_channel_messages_need_the_prefix_and_bots_are_ignored(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat):
        chat.push("whoami", user_id="alice", direct=False)  # no prefix: not for the bot
        chat.push("!whoami", user_id="alice", direct=False, from_bot=True)
        chat.push("!whoami", user_id="alice", direct=False)
        reply = await chat.next_message()
        assert reply.message.text.startswith("You are alice (chat identity console:local:alice)")
        assert reply.place.thread is not None  # answered in the message's thread
        await asyncio.sleep(0.2)
        assert len(chat.posted) == 1


async def test_rate_limit_tells_once_then_drops(tmp_path: Path) -> None:
    chat = TestChat()
    limited = "chat: {rate_limit: {burst: 2, per_minute: 1}}\n"
    async with running(config(tmp_path, limited), chat):
        for _ in range(5):
            chat.push("whoami", user_id="alice")
        replies = [await chat.next_message() for _ in range(3)]
        assert [r.message.text.split(":")[0] for r in replies][2] == "Slow down"
        chat.push("whoami", user_id="bob")  # another user has a budget of their own
        assert (await chat.next_message()).message.text.startswith("You are bob")
        assert len(chat.posted) == 4


async def test_executions_are_yours_unless_you_may_see_more(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat) as runtime:
        chat.push("greet x", user_id="alice")
        done = await chat.wait_for(lambda p: p.edited)
        execution_id = (done.message.footer or "").split()[1]
        chat.push("executions", user_id="alice")
        assert execution_id in (await chat.next_message()).text
        chat.push(f"execution {execution_id}", user_id="carol")
        assert f"execution {execution_id} not found" in (await chat.next_message()).text
        chat.push(f"cancel {execution_id}", user_id="carol")
        assert "not found" in (await chat.next_message()).text
        chat.push("status", user_id="carol")
        status = (await chat.next_message()).text
        assert "chat: console connected" in status and "store: sqlite" in status
        assert runtime.health()["delivery_failures"] == 0


async def test_rerun_button_runs_it_again(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat) as runtime:
        chat.push("greet again", user_id="alice")
        done = await chat.wait_for(lambda p: p.edited)
        [button] = done.message.buttons
        chat.push(button.command, user_id="alice")  # a click arrives as its command
        second = await chat.wait_for(lambda p: p.edited and p.message_id != done.message_id)
        assert second.message.text == "again"
        found = await runtime.commands.engine.store.executions.list(ExecutionQuery())
        assert len(found) == 2


async def test_approval_gated_alias_needs_someone_else(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat) as runtime:
        engine = runtime.commands.engine
        chat.push("deploy web to prod", user_id="alice")
        card = await chat.next_message()
        assert card.message.status == "awaiting approval"
        approval = card.message.approval
        assert approval is not None and approval.requester == "alice"
        assert [b.command for b in card.message.buttons] == [
            f"approve {approval.id}",
            f"deny {approval.id}",
        ]
        [held] = await engine.store.executions.list(ExecutionQuery())
        assert held.status is ExecutionStatus.PENDING
        chat.push(f"approve {approval.id}", user_id="alice")
        assert "may not answer it" in (await chat.next_message()).message.text
        chat.push(f"approve {approval.id}", user_id="carol")
        assert "carol may not answer approval" in (await chat.next_message()).message.text
        assert (await engine.approvals.get(approval.id)).status is ApprovalStatus.PENDING
        chat.push(f"approve {approval.id}", user_id="bob")
        outcome = await chat.wait_for(lambda p: p.message_id == card.message_id and p.edited)
        assert outcome.message.text.startswith("approved by bob at ")
        assert outcome.message.buttons == ()
        result = await chat.wait_for(titled("chat_demo.deploy", edited=True))
        assert result.message.text == "deployed web to prod"
        done = await engine.executions.get(held.id)
        assert done.status is ExecutionStatus.SUCCEEDED
        assert done.context["approval"]["decided_by"] == "bob"


async def test_two_simultaneous_approvals_make_one_decision(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat) as runtime:
        chat.push("deploy api to staging", user_id="alice")
        approval = (await chat.next_message()).message.approval
        assert approval is not None
        chat.push(f"approve {approval.id}", user_id="bob")
        chat.push(f"deny {approval.id}", user_id="dave")
        loser = await chat.wait_for(saying("was already"))
        assert loser.message.ephemeral
        decided = await runtime.commands.engine.approvals.get(approval.id)
        assert decided is not None and decided.decided_by in ("bob", "dave")
        assert decided.decided_by in loser.message.text
        entries = await runtime.commands.engine.audit.list(limit=100)
        assert sum(e.kind == "approval.decide" for e in entries) == 1


async def test_denial_cancels_and_expiry_times_out(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat) as runtime:
        engine = runtime.commands.engine
        chat.push("deploy web to prod", user_id="alice")
        denied = (await chat.next_message()).message.approval
        assert denied is not None
        chat.push(f"deny {denied.id}", user_id="bob")
        outcome = await chat.wait_for(saying("denied by bob"))
        assert outcome.edited
        canceled = await chat.wait_for(titled("chat_demo.deploy", edited=None))
        assert canceled.message.status == "canceled"
        chat.push("hotfix web to prod", user_id="alice")  # ttl: 1 second
        expiring = (await chat.next_message()).message.approval
        assert expiring is not None
        await asyncio.sleep(1.1)
        await engine.approvals.expire_due()
        await chat.wait_for(saying("expired at"))
        query = ExecutionQuery(action_ref="chat_demo.deploy", limit=1)
        latest = await eventually(
            lambda: engine.store.executions.list(query),
            lambda found: found[0].status is ExecutionStatus.TIMEOUT,
        )
        assert latest[0].result == {"message": f"approval {expiring.id} expired"}


async def eventually(read: Callable[[], Awaitable[T]], done: Callable[[T], bool]) -> T:
    """Re-read until ``done``; bounded, like every wait in these tests."""
    async with asyncio.timeout(10):
        while not done(value := await read()):
            await asyncio.sleep(0.05)
    return value


async def test_canceling_a_held_execution_withdraws_its_approval(tmp_path: Path) -> None:
    chat = TestChat()
    async with running(config(tmp_path), chat) as runtime:
        engine = runtime.commands.engine
        chat.push("deploy web to prod", user_id="alice")
        approval = (await chat.next_message()).message.approval
        assert approval is not None
        [held] = await engine.store.executions.list(ExecutionQuery())
        chat.push(f"cancel {held.id}", user_id="alice")
        await chat.wait_for(saying(f"execution {held.id}: canceled"))
        withdrawn = await eventually(
            lambda: engine.approvals.get(approval.id),
            lambda found: found is not None and found.status is ApprovalStatus.CANCELED,
        )
        assert withdrawn is not None
        chat.push(f"approve {approval.id}", user_id="bob")
        assert "already canceled" in (await chat.wait_for(saying("already"))).message.text

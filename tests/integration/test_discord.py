"""Discord end to end: the real discord.py client against a fake Discord (REST v10 + gateway)
on 127.0.0.1. Identities are ``discord:<guild>:<user>``: alice is ops, bob approves, carol has
only the default role."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import pytest

from adapters.base import ChatIdentity, ChatPlace, CredentialError
from bot.app import Engine, open_engine
from bot.chat.loop import close_adapters
from bot.chat.runtime import ChatRuntime, configured_adapters, open_chat
from bot.settings import load_settings
from core.approvals.service import ApprovalRequest
from core.models import ExecutionStatus
from core.models.approval import ApprovalStatus
from core.store import ExecutionQuery
from tests.fakes.discord import (
    BOT_ID,
    CHANNEL_ID,
    GUILD_ID,
    THREAD_ID,
    TOKEN,
    FakeDiscord,
    running_fake,
    user,
)
from tests.functional.harness import CHAT_ENGINE

ALICE = user("3000000000000000001", "alice")
BOB = user("3000000000000000002", "bob")
CAROL = user("3000000000000000003", "carol")
USERS = f"""
users:
  alice: {{identities: ["discord:{GUILD_ID}:{ALICE["id"]}"], roles: [ops]}}
  bob: {{identities: ["discord:{GUILD_ID}:{BOB["id"]}"], roles: [approvers]}}
  carol: {{identities: ["discord:{GUILD_ID}:{CAROL["id"]}"]}}
roles:
  ops:
    - allow: {{actions: ["core.echo", "core.noop", "chat_demo.*"]}}
  approvers: []
"""


@pytest.fixture(autouse=True)
def restore_discord_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    """The adapter points discord.py at the fake; put Discord's own endpoints back after."""
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    gateway = discord.gateway.DiscordWebSocket
    monkeypatch.setattr(gateway, "DEFAULT_GATEWAY", gateway.DEFAULT_GATEWAY)


def config(
    tmp_path: Path, fake: FakeDiscord, token: str = TOKEN, prefix: bool = False, extra: str = ""
) -> Path:
    path = tmp_path / "squall.yaml"
    path.write_text(
        CHAT_ENGINE + "chat:\n"
        "  discord:\n"
        "    enabled: true\n"
        f"    token: {token}\n"
        f"    guild_ids: [{GUILD_ID}]\n"
        f"    api_url: {fake.api_base}\n"
        f"    gateway_url: {fake.gateway_url}\n"
        f"    prefix_commands: {str(prefix).lower()}\n"
        "routes:\n"
        "  ops: {adapter: discord, channel: '1000000000000000005'}\n"
        f"{USERS}{extra}"
    )
    return path


@dataclass
class Squall:
    engine: Engine
    chat: ChatRuntime
    fake: FakeDiscord


@contextlib.asynccontextmanager
async def squall(
    tmp_path: Path, fake: FakeDiscord, token: str = TOKEN, prefix: bool = False, extra: str = ""
) -> AsyncIterator[Squall]:
    settings = load_settings(config(tmp_path, fake, token, prefix, extra))
    adapters = configured_adapters(settings)
    for adapter in adapters:  # the fake sends no GUILD_CREATE delays worth waiting for
        adapter.config = type(adapter.config)(
            **{**adapter.config.__dict__, "guild_ready_timeout": 0.05}
        )  # type: ignore[attr-defined]
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(close_adapters, adapters)
        engine = await stack.enter_async_context(open_engine(settings))
        chat = await stack.enter_async_context(open_chat(engine, adapters))
        yield Squall(engine, chat, fake)


def embed_text(message: dict[str, Any]) -> str:
    return json.dumps(message.get("embeds")) + (message.get("content") or "")


async def test_login_syncs_the_commands_for_the_guild(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake):
        guild = {c["name"]: c for c in fake.commands[GUILD_ID]}
        assert fake.commands.get("global") == []
        assert guild["squall"]["options"][0]["name"] == "text"
        assert guild["squall"]["options"][0]["autocomplete"] is True
        group = {c["name"]: c for c in guild["run"]["options"]}
        deploy = {o["name"]: o for o in group["deploy"]["options"]}
        assert deploy["env"]["choices"] == [
            {"name": "staging", "value": "staging"},
            {"name": "prod", "value": "prod"},
        ]
        assert deploy["service"]["type"] == 3 and deploy["service"]["required"] is True
        assert "dupes" not in group  # match_multiple: reachable as text only
        identify = fake.last_identify
        assert identify["token"] == TOKEN
        assert not identify["intents"] & (1 << 15)  # no message-content intent


async def test_slash_command_is_deferred_then_the_card_is_edited(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        interaction = await fake.slash("squall", text("greet @everyone"), ALICE)
        [defer] = await fake.wait_for("POST", f"/interactions/{interaction['id']}/")
        assert defer.body["type"] == 5  # deferred, "thinking"
        await fake.wait_until(lambda: "succeeded" in embed_text(fake.original(interaction)))
        card = fake.original(interaction)
        assert "@everyone" in embed_text(card)
        edits = fake.called("PATCH", "/messages/@original")
        assert edits and all(e.body.get("allowed_mentions") == {"parse": []} for e in edits)
        [button] = fake.buttons(card)
        assert button["label"] == "Re-run" and button["custom_id"].startswith("sq:rerun ")
        [execution] = await sq.engine.store.executions.list(ExecutionQuery())
        assert (
            execution.context["source_context"]["identity"] == f"discord:{GUILD_ID}:{ALICE['id']}"
        )


async def test_a_typed_alias_subcommand(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        given = [
            {"name": "host", "type": 3, "value": "8.8.8.8"},
            {"name": "count", "type": 4, "value": 3},
        ]
        options = [{"name": "ping", "type": 1, "options": given}]
        interaction = await fake.slash("run", options, ALICE)
        await fake.wait_until(lambda: "8.8.8.8 x3" in embed_text(fake.original(interaction)))
        [execution] = await sq.engine.store.executions.list(ExecutionQuery())
        assert execution.parameters["count"] == 3
        assert execution.context["action_alias_ref"] == "chat_demo.ping"


async def test_a_refusal_is_ephemeral_and_drops_the_thinking_message(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        await fake.slash("squall", text("greet x"), CAROL)
        [followup] = await fake.wait_for("POST", "/webhooks/", 1)
        assert followup.body["flags"] & 64  # ephemeral
        assert "You may not run core.echo" in followup.body["content"]
        await fake.wait_for("DELETE", "/messages/@original")
        assert await sq.engine.store.executions.list(ExecutionQuery()) == []


async def test_approval_buttons_for_refused_and_allowed_users(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        interaction = await fake.slash("squall", text("deploy web to prod"), ALICE)
        await fake.wait_until(lambda: "awaiting approval" in embed_text(fake.original(interaction)))
        card = fake.original(interaction)
        approve, deny = fake.buttons(card)
        assert (approve["label"], deny["label"]) == ("Approve", "Deny")
        click = await fake.click(card["id"], approve["custom_id"], CAROL)
        [refusal] = await fake.wait_for("POST", "/webhooks/", 1)
        assert refusal.body["flags"] & 64 and "carol may not answer" in refusal.body["content"]
        assert fake.callbacks(click)[0].body["type"] == 6  # deferred update: the card is untouched
        approval_id = approve["custom_id"].split()[-1]
        assert (await sq.engine.approvals.get(approval_id)).status is ApprovalStatus.PENDING
        await fake.click(card["id"], approve["custom_id"], BOB)
        await fake.wait_until(lambda: "approved by bob" in embed_text(fake.messages[card["id"]]))
        assert fake.buttons(fake.messages[card["id"]]) == []
        await fake.wait_until(
            lambda: any("deployed web to prod" in embed_text(m) for m in fake.messages.values())
        )
        [execution] = await sq.engine.store.executions.list(ExecutionQuery())
        assert execution.status is ExecutionStatus.SUCCEEDED


async def test_a_button_survives_a_restart(tmp_path: Path) -> None:
    async with running_fake() as fake:
        async with squall(tmp_path, fake):
            interaction = await fake.slash("squall", text("greet once"), ALICE)
            await fake.wait_until(lambda: "succeeded" in embed_text(fake.original(interaction)))
            card = fake.original(interaction)
        async with squall(tmp_path, fake) as sq:  # a new process: nothing in memory
            [rerun] = fake.buttons(card)
            await fake.click(card["id"], rerun["custom_id"], ALICE)
            await fake.wait_until(
                lambda: len([m for m in fake.messages.values() if "once" in embed_text(m)]) >= 2
            )
            assert len(await sq.engine.store.executions.list(ExecutionQuery())) == 2


async def test_autocomplete_offers_only_what_the_user_may_run(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake):
        options = [{"name": "text", "type": 3, "value": "gr", "focused": True}]
        alice = await fake.autocomplete("squall", options, ALICE)
        carol = await fake.autocomplete("squall", options, CAROL)
        for interaction in (alice, carol):
            await fake.wait_for("POST", f"/interactions/{interaction['id']}/")
        offered = {
            who: [c["value"] for c in fake.callbacks(i)[0].body["data"]["choices"]]
            for who, i in (("alice", alice), ("carol", carol))
        }
        assert "greet {{message=world}}" in offered["alice"]
        assert "greet {{message=world}}" not in offered["carol"]


async def test_long_output_is_attached_as_a_file(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake):
        text = "run chat_demo.long_output count=3000"
        interaction = await fake.slash(
            "squall", [{"name": "text", "type": 3, "value": text}], ALICE
        )
        await fake.wait_until(
            lambda: bool(fake.original(interaction).get("attachments")), timeout=20
        )
        [attachment] = fake.original(interaction)["attachments"]
        assert attachment["content"].splitlines()[-1] == "3000"
        assert "full output attached" in embed_text(fake.original(interaction))


async def test_notification_route_posts_to_the_channel(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        interaction = await fake.slash(
            "squall",
            text("run chat_demo.announce who=ana"),
            ALICE,
        )
        [post] = await fake.wait_for("POST", "/channels/1000000000000000005/messages")
        assert "ana announced" in json.dumps(post.body)
        await fake.wait_until(lambda: "succeeded" in embed_text(fake.original(interaction)))
        assert sq.chat.delivery.failures == 0


async def test_a_schema_approval_opens_a_modal(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        alice = sq.engine.authz.user_for(_identity(ALICE))
        properties = {"reason": {"type": "string"}, "count": {"type": "integer"}}
        schema = {"type": "object", "properties": properties, "required": ["reason"]}
        request = ApprovalRequest("Why?", {"kind": "test"}, approvers=("bob",), schema=schema)
        place = ChatPlace("discord", "1000000000000000004")
        approval = await sq.engine.approvals.create(
            request, requester=alice, place=place.to_context()
        )
        await sq.chat.approval_cards.post(place, approval)
        await fake.wait_for("POST", "/channels/1000000000000000004/messages")
        card = next(m for m in fake.messages.values() if "Why?" in embed_text(m))
        [form] = fake.buttons(card)
        assert form["custom_id"] == f"sqform:{approval.id}"
        click = await fake.click(card["id"], form["custom_id"], BOB)
        [modal] = await fake.wait_for("POST", f"/interactions/{click['id']}/")
        assert modal.body["type"] == 9
        inputs = [row["components"][0]["custom_id"] for row in modal.body["data"]["components"]]
        assert inputs == ["reason", "count"]
        await fake.submit_modal(
            card["id"], modal.body["data"]["custom_id"], {"reason": "Friday", "count": "3"}, BOB
        )
        await fake.wait_until(lambda: "approved by bob" in embed_text(fake.messages[card["id"]]))
        answered = await sq.engine.approvals.get(approval.id)
        assert answered is not None and answered.response == {"reason": "Friday", "count": 3}


def _identity(who: dict[str, Any]) -> ChatIdentity:
    return ChatIdentity("discord", GUILD_ID, who["id"])


def text(value: str) -> list[dict[str, Any]]:
    """The options of ``/squall text:<value>``."""
    return [{"name": "text", "type": 3, "value": value}]


async def test_the_gateway_reconnects_and_resumes(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        await fake.drop_gateway()
        await fake.wait_until(lambda: fake.resumes + fake.identifies >= 2, timeout=20)
        await fake.wait_ready()
        async with asyncio.timeout(10):
            while sq.chat.health()["adapters"]["discord"] != "connected":
                await asyncio.sleep(0.05)
        interaction = await fake.slash("squall", text("greet after"), ALICE)
        await fake.wait_until(lambda: "succeeded" in embed_text(fake.original(interaction)))


async def test_an_invalid_token_fails_fast(tmp_path: Path) -> None:
    async with running_fake() as fake:
        fake.refused_tokens.add("bad-token")
        with pytest.raises(CredentialError, match="Discord refused the bot token"):
            async with squall(tmp_path, fake, token="bad-token"):
                pass


async def test_prefix_commands_in_a_thread_need_the_content_intent(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake, prefix=True) as sq:
        assert fake.last_identify["intents"] & (1 << 15)  # message content, asked for
        await fake.say(THREAD_ID, "greet nobody", ALICE)  # no prefix, no mention: not for us
        said = await fake.say(THREAD_ID, "!greet thread", ALICE)
        [post] = await fake.wait_for("POST", f"/channels/{THREAD_ID}/messages")
        assert str(post.body["message_reference"]["message_id"]) == said["id"]
        assert "greeting thread" in json.dumps(post.body)
        [edit] = await fake.wait_for("PATCH", f"/channels/{THREAD_ID}/messages/")
        assert "succeeded" in json.dumps(edit.body)
        await fake.say(CHANNEL_ID, f"<@{BOT_ID}> whoami", ALICE)
        [answer] = await fake.wait_for("POST", f"/channels/{CHANNEL_ID}/messages")
        assert "You are alice" in answer.body["content"]
        assert len(await sq.engine.store.executions.list(ExecutionQuery())) == 1

"""Slack end to end: real slack-bolt and slack_sdk against a fake Slack on 127.0.0.1.

HTTP mode: signed requests go to Squall's own aiohttp listener (a real server on 127.0.0.1).
Socket Mode: the fake serves apps.connections.open and the websocket. Identities are
``slack:T1:<user>``: UALICE is ops, UBOB approves, UCAROL has only the default role.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from adapters.base import ChatIdentity, ChatPlace, CredentialError, OutgoingMessage
from bot.app import Engine, open_engine
from bot.chat.loop import close_adapters
from bot.chat.runtime import ChatRuntime, configured_adapters, open_chat
from bot.doctor import Report, check_running_serve
from bot.http.app import build_web_app
from bot.settings import load_settings
from core.approvals.service import ApprovalRequest
from core.models import ExecutionStatus
from core.models.approval import ApprovalStatus
from core.runners.chat_post import ChatTarget
from core.store import ExecutionQuery
from tests.conftest import FIXTURES
from tests.fakes.slack import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlack,
    block_action,
    event_callback,
    form,
    interactive,
    running_fake,
    sign,
    slash_command,
)

CHAT_PACK = FIXTURES / "chat"
USERS = """
users:
  alice: {identities: ["slack:T1:UALICE"], roles: [ops]}
  bob: {identities: ["slack:T1:UBOB"], roles: [approvers]}
  carol: {identities: ["slack:T1:UCAROL"]}
roles:
  ops:
    - allow: {actions: ["core.echo", "core.noop", "chat_demo.*"]}
  approvers: []
"""


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # slack_sdk reads proxy variables itself and ignores NO_PROXY.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def config(tmp_path: Path, fake: FakeSlack, *, mode: str = "http", extra: str = "") -> Path:
    path = tmp_path / "squall.yaml"
    path.write_text(
        "store: {url: 'sqlite:///var/squall.db'}\n"
        f"packs: {{paths: ['{CHAT_PACK}']}}\n"
        "http: {enabled: true}\n"
        "executions: {max_concurrency: 4, python_fork_server: false}\n"
        "chat:\n"
        "  slack:\n"
        "    enabled: true\n"
        f"    mode: {mode}\n"
        f"    bot_token: {BOT_TOKEN}\n"
        f"    app_token: {APP_TOKEN}\n"
        f"    signing_secret: {SIGNING_SECRET}\n"
        f"    api_url: {fake.api_url}\n"
        "    ping_interval: 0.2\n"
        "routes:\n"
        "  ops: {adapter: slack, channel: '#alerts'}\n"
        f"{extra}{USERS}"
    )
    return path


@dataclass
class Squall:
    engine: Engine
    chat: ChatRuntime
    client: TestClient[Any, Any] | None
    fake: FakeSlack

    async def post(self, body: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
        assert self.client is not None  # sent as Slack sends it: no ack in 3 s is a failure
        return await self.fake.deliver(str(self.client.make_url("/slack/events")), body, headers)

    async def command(self, text: str, user: str = "UALICE") -> tuple[int, str]:
        body = form(slash_command(text, user, response_url=self.fake.response_url(f"cmd-{user}")))
        return await self.post(body)

    async def click(self, value: str, user: str, ts: str) -> tuple[int, str]:
        hook = self.fake.response_url(f"act-{user}")
        return await self.post(
            interactive(block_action(value, user, message_ts=ts, response_url=hook))
        )


@contextlib.asynccontextmanager
async def squall(tmp_path: Path, fake: FakeSlack, **kwargs: Any) -> AsyncIterator[Squall]:
    settings = load_settings(config(tmp_path, fake, **kwargs))
    adapters = configured_adapters(settings)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(close_adapters, adapters)
        engine = await stack.enter_async_context(open_engine(settings))
        chat = await stack.enter_async_context(open_chat(engine, adapters))
        client = None
        if settings.chat.slack.mode == "http":
            app = build_web_app(engine, chat_health=chat.health, adapters=adapters)
            client = TestClient(TestServer(app, host="127.0.0.1"))
            await client.start_server()
            stack.push_async_callback(client.close)
        yield Squall(engine, chat, client, fake)


def blocks_text(call_args: dict[str, Any]) -> str:
    return json.dumps(call_args.get("blocks"))


async def test_slash_command_acks_then_posts_and_updates_the_card(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        started = time.monotonic()
        status, body = await sq.command("greet <b>&friends</b>")
        assert (status, body) == (200, "")
        assert time.monotonic() - started < 3  # acknowledged before any work
        [posted] = await fake.wait_for("chat.postMessage")
        assert posted.args["channel"] == "C0GENERAL"
        # The greet alias's ack has extra.slack, so its text is an st2-style attachment.
        [ack] = posted.args["attachments"]
        assert ack["text"] == "greeting &lt;b&gt;&amp;friends&lt;/b&gt;"
        assert ack["color"] == "requested"
        [updated] = await fake.wait_for("chat.update")
        assert updated.args["ts"] == "1700000000.000001"
        text = blocks_text(updated.args)
        assert "chat_demo.greet" not in text and "core.echo" in text  # header: the action
        assert "&lt;b&gt;&amp;friends&lt;/b&gt;" in text and "<b>" not in text
        [execution] = await sq.engine.store.executions.list(ExecutionQuery())
        assert execution.context["user"] == "alice"
        assert execution.context["source_context"]["identity"] == "slack:T1:UALICE"


async def test_a_mention_is_answered_in_its_thread(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        mention = {
            "type": "app_mention", "user": "UALICE", "channel": "C0GENERAL",
            "text": "<@UBOT> whoami", "ts": "1700000500.000100",
        }  # fmt: skip
        # The same text also arrives as a channel message: it must run once.
        message = {**mention, "type": "message", "channel_type": "channel"}
        for n, event in enumerate((mention, message)):
            body = json.dumps(event_callback(event, f"Ev{n}"))
            assert (await sq.post(body, _json(body)))[0] == 200
        [reply] = await fake.wait_for("chat.postEphemeral")
        assert reply.args["thread_ts"] == "1700000500.000100" and reply.args["user"] == "UALICE"
        assert "You are alice" in reply.args["text"]
        await asyncio.sleep(0.3)
        assert len(fake.called("chat.postEphemeral")) == 1


def _json(body: str) -> dict[str, str]:
    return {**sign(body), "Content-Type": "application/json"}


async def test_a_retried_event_delivery_runs_once(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        event = {"type": "app_mention", "user": "UALICE", "channel": "C0GENERAL",
                 "text": "<@UBOT> greet once", "ts": "1700000700.000100"}  # fmt: skip
        body = json.dumps(event_callback(event, "EvSame"))
        for retry in ("", "1"):
            headers = {**_json(body), **({"X-Slack-Retry-Num": retry} if retry else {})}
            assert (await sq.post(body, headers))[0] == 200
        await fake.wait_for("chat.update")
        await asyncio.sleep(0.3)
        assert len(fake.called("chat.postMessage")) == 1
        assert len(await sq.engine.store.executions.list(ExecutionQuery())) == 1


async def test_channel_message_needs_the_prefix(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        for n, text in enumerate(["greet nobody", "!greet somebody"]):
            event = {"type": "message", "user": "UALICE", "channel": "C0GENERAL", "text": text,
                     "ts": f"1700000600.00010{n}", "channel_type": "channel"}  # fmt: skip
            body = json.dumps(event_callback(event, f"Ev{n}"))
            assert (await sq.post(body, _json(body)))[0] == 200
        [posted] = await fake.wait_for("chat.postMessage")
        assert posted.args["attachments"][0]["text"] == "greeting somebody"
        assert posted.args["thread_ts"] == "1700000600.000101"


async def test_bad_and_stale_signatures_are_401_and_run_nothing(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        body = form(slash_command("greet x", "UALICE", response_url=fake.response_url("x")))
        forged = sign(body, secret="wrong-secret")
        assert (await sq.post(body, forged))[0] == 401
        stale = sign(body, ts=time.time() - 301)
        assert (await sq.post(body, stale))[0] == 401
        future = sign(body, ts=time.time() + 301)
        assert (await sq.post(body, future))[0] == 401
        tampered = sign(body)
        assert (await sq.post(body.replace("greet", "gre3t"), tampered))[0] == 401
        await asyncio.sleep(0.3)
        assert fake.called("chat.postMessage") == []
        assert await sq.engine.store.executions.list(ExecutionQuery()) == []


async def test_approval_click_by_a_refused_then_an_allowed_user(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        await sq.command("deploy web to prod")
        [card] = await fake.wait_for("chat.postMessage")
        actions = next(b for b in card.args["blocks"] if b["type"] == "actions")
        approve = actions["elements"][0]
        assert approve["text"]["text"] == "Approve" and approve["value"].startswith("approve ")
        approval_id = approve["value"].split()[1]
        await sq.click(approve["value"], "UCAROL", "1700000000.000001")
        [refusal] = await fake.wait_for_response()
        assert refusal["response_type"] == "ephemeral" and "carol may not answer" in refusal["text"]
        assert (await sq.engine.approvals.get(approval_id)).status is ApprovalStatus.PENDING
        assert fake.called("chat.update") == []
        await sq.click(approve["value"], "UBOB", "1700000000.000001")
        updates = await fake.wait_for("chat.update", 2)
        decided = updates[0].args
        assert decided["ts"] == "1700000000.000001"
        assert "approved by bob at" in blocks_text(decided)
        assert all(b["type"] != "actions" for b in decided["blocks"])  # the buttons are gone
        assert "deployed web to prod" in blocks_text(updates[1].args)  # the run card's result
        [held] = await sq.engine.store.executions.list(ExecutionQuery())
        assert held.status is ExecutionStatus.SUCCEEDED


async def test_cancel_button_and_rerun_button_are_their_commands(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        await sq.command("greet first")
        [update] = await fake.wait_for("chat.update")
        rerun = next(b for b in update.args["blocks"] if b["type"] == "actions")["elements"][0]
        assert rerun["text"]["text"] == "Re-run"
        await sq.click(rerun["value"], "UALICE", update.args["ts"])
        await fake.wait_for("chat.update", 2)
        assert len(await sq.engine.store.executions.list(ExecutionQuery())) == 2
        await sq.click(rerun["value"], "UCAROL", update.args["ts"])
        [refusal] = await fake.wait_for_response()
        assert refusal["response_type"] == "ephemeral" and "not found" in refusal["text"]
        assert len(await sq.engine.store.executions.list(ExecutionQuery())) == 2


async def test_429_is_retried_after_retry_after(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        fake.fail_next(
            "chat.postMessage", status=429, headers={"Retry-After": "1"}, error="ratelimited"
        )
        await sq.command("greet patiently")
        calls = await fake.wait_for("chat.postMessage", 2, timeout=15)
        assert calls[1].at - calls[0].at >= 1.0
        await fake.wait_for("chat.update")
        assert sq.chat.delivery.failures == 0


async def test_5xx_is_retried_and_order_is_kept(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        fake.fail_next("chat.postMessage", status=503, count=2)
        await asyncio.gather(
            *(sq.chat.outbox.post_message(_target("ops"), _message(f"note {n}")) for n in range(3))
        )
        calls = [c for c in await fake.wait_for("chat.postMessage", 5) if c.args.get("text")]
        delivered = [c.args["text"] for c in calls[2:]]
        assert delivered == ["note 0", "note 1", "note 2"]


def _target(route: str) -> ChatTarget:
    return ChatTarget(route=route)


def _message(text: str) -> OutgoingMessage:
    return OutgoingMessage(text=text)


async def test_channel_names_are_resolved_once(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        await sq.chat.outbox.post_message(_target("ops"), _message("one"))
        await sq.chat.outbox.post_message(_target("ops"), _message("two"))
        posts = await fake.wait_for("chat.postMessage", 2)
        assert {p.args["channel"] for p in posts} == {"C0ALERTS"}
        assert len(fake.called("conversations.list")) == 1


async def test_long_output_is_uploaded_in_the_cards_thread(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        await sq.command("run chat_demo.long_output count=3000")
        [update] = await fake.wait_for("chat.update", timeout=20)
        assert "full output attached" in blocks_text(update.args)
        [done] = await fake.wait_for("files.completeUploadExternal")
        assert done.args["channel_id"] == "C0GENERAL"
        assert done.args["thread_ts"] == update.args["ts"]
        [content] = fake.uploads.values()
        assert content.decode().splitlines()[-1] == "3000"


async def test_alias_extra_slack_becomes_an_attachment(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        await sq.command("kitten")  # ack disabled: the result is the only message
        [result] = await fake.wait_for("chat.postMessage")
        [attachment] = result.args["attachments"]
        assert attachment["color"] == "#36a64f" and attachment["image_url"].endswith("cat.png")
        assert attachment["text"] == "meow"


async def test_a_schema_approval_opens_a_form_and_the_answer_is_typed(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        alice = sq.engine.authz.user_for(_identity("UALICE"))
        schema = {
            "type": "object",
            "properties": {"reason": {"type": "string"}, "count": {"type": "integer"}},
            "required": ["reason"],
        }
        request = ApprovalRequest("Why?", {"kind": "test"}, approvers=("bob",), schema=schema)
        place = ChatPlace("slack", "C0GENERAL")
        approval = await sq.engine.approvals.create(
            request, requester=alice, place=place.to_context()
        )
        await sq.chat.approval_cards.post(place, approval)
        [card] = await fake.wait_for("chat.postMessage")
        [form_button] = next(b for b in card.args["blocks"] if b["type"] == "actions")["elements"]
        assert form_button["action_id"] == "squall-form"
        hook = fake.response_url("f")
        click = block_action(
            form_button["value"], "UBOB", message_ts="1", response_url=hook, action_id="squall-form"
        )
        await sq.post(interactive(click))
        [opened] = await fake.wait_for("views.open")
        view = (
            json.loads(opened.args["view"])
            if isinstance(opened.args["view"], str)
            else opened.args["view"]
        )
        assert [b.get("block_id") for b in view["blocks"][1:]] == ["reason", "count"]
        submission = {
            "type": "view_submission",
            "user": {"id": "UBOB", "team_id": "T1", "username": "bob"},
            "team": {"id": "T1"},
            "api_app_id": "A1",
            "view": {**view, "id": "V1", "state": {"values": {
                "reason": {"value": {"type": "plain_text_input", "value": "it is Friday"}},
                "count": {"value": {"type": "number_input", "value": "3"}},
            }}},
        }  # fmt: skip
        assert (await sq.post(interactive(submission)))[0] == 200
        [decided] = await fake.wait_for("chat.update")
        assert "approved by bob" in blocks_text(decided.args)
        answered = await sq.engine.approvals.get(approval.id)
        assert answered is not None and answered.response == {"reason": "it is Friday", "count": 3}


def _identity(user: str) -> ChatIdentity:
    return ChatIdentity("slack", "T1", user)


async def test_invalid_bot_token_fails_fast(tmp_path: Path) -> None:
    async with running_fake() as fake:
        fake.refuse(BOT_TOKEN)
        with pytest.raises(CredentialError, match="Slack refused the bot token: invalid_auth"):
            async with squall(tmp_path, fake):
                pass


async def test_socket_mode_slash_command_then_reconnect(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake, mode="socket") as sq:
        await fake.wait_connected()
        command = slash_command("greet socket", "UALICE", response_url=fake.response_url("s"))
        envelope = fake.push_envelope("slash_commands", command)
        ack = await fake.expect_ack(envelope)  # within Slack's 3 s
        assert ack is not None and ack["envelope_id"] == envelope
        await fake.wait_for("chat.update")
        assert sq.chat.health()["adapters"] == {"slack": "connected"}
        await fake.drop_socket()
        await fake.wait_connected(opens=2, timeout=15)
        assert len(fake.called("apps.connections.open")) >= 2
        fake.push_envelope("slash_commands", {**command, "text": "greet again"})
        await fake.wait_for("chat.update", 2, timeout=10)
        assert "again" in blocks_text(fake.called("chat.update")[1].args)


async def test_invalid_app_token_fails_fast_in_socket_mode(tmp_path: Path) -> None:
    async with running_fake() as fake:
        fake.refuse(APP_TOKEN)
        with pytest.raises(CredentialError, match="app token"):
            async with squall(tmp_path, fake, mode="socket"):
                pass


async def test_a_result_that_cannot_be_posted_is_counted_and_shown_by_doctor(
    tmp_path: Path,
) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        fake.fail_next("chat.update", status=200, count=4, error="channel_not_found")
        await sq.command("greet lost")
        await fake.wait_for("chat.update", 4, timeout=20)
        async with asyncio.timeout(10):
            while sq.chat.delivery.failures == 0:
                await asyncio.sleep(0.05)
        assert sq.client is not None
        health = await (await sq.client.get("/healthz")).json()
        [lost] = health["delivery_failures_recent"]
        assert lost["what"].startswith("result of execution ")
        assert "channel_not_found" in lost["error"]
        settings = sq.engine.settings
        port = sq.client.server.port
        assert port is not None
        local = replace(settings, http=replace(settings.http, host="127.0.0.1", port=port))
        report = Report()
        await check_running_serve(local, report)
        assert any("result of execution" in line for line in report.lines)

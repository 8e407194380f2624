"""The platforms' clocks: Slack's 3-second acknowledgement and 30-minute response_url, Discord's
3-second initial response and 15-minute interaction token, and the gateway's RESUME.

The fakes enforce them (tests/fakes/slack.py, tests/fakes/discord.py); their clocks are moved
forward (``advance``), nobody sleeps for minutes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from adapters.base import ChatEvent, ChatIdentity, ChatPlace
from adapters.discord import interactions
from adapters.discord.convert import interaction_place
from core.models import ExecutionStatus
from core.models.chat import OutgoingMessage
from core.store import ExecutionQuery
from tests.fakes.discord import APP_ID, CHANNEL_ID
from tests.fakes.discord import running_fake as running_discord
from tests.fakes.server import serving
from tests.fakes.slack import block_action, event_callback, interactive, running_fake
from tests.integration.test_discord import (
    ALICE,
    embed_text,
    restore_discord_endpoints,  # noqa: F401 (fixture)
    text,
)
from tests.integration.test_discord import squall as discord_squall
from tests.integration.test_slack import no_proxy, squall  # noqa: F401 (fixture)

MINUTE = 60.0


# -- Slack: the 3-second acknowledgement ---------------------------------------------------------
async def test_a_click_whose_action_is_slow_is_acknowledged_within_three_seconds(
    tmp_path: Path,
) -> None:
    gate = tmp_path / "gate"
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        value = f"run chat_demo.slow gate={gate}"
        status, _ = await sq.click(value, "UALICE", "1700000000.000001")
        assert status == 200 and fake.ack_failures == []  # acked in time, action still running
        async with asyncio.timeout(10):
            while not (running := await sq.engine.store.executions.list(ExecutionQuery())):
                await asyncio.sleep(0.05)
        assert running[0].status is not ExecutionStatus.SUCCEEDED
        gate.touch()  # now the action may finish
        async with asyncio.timeout(20):
            while (await sq.engine.store.executions.get(running[0].id)).status is not (
                ExecutionStatus.SUCCEEDED
            ):
                await asyncio.sleep(0.05)
        assert fake.ack_failures == []


async def test_an_event_acknowledged_in_time_is_not_retried(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        event = {"type": "app_mention", "user": "UALICE", "channel": "C0GENERAL",
                 "text": "<@UBOT> greet quickly", "ts": "1700000800.000100"}  # fmt: skip
        status, _ = await sq.post(json.dumps(event_callback(event, "EvQuick")))
        assert status == 200
        await fake.wait_for("chat.update")
        assert fake.ack_failures == []


async def test_the_fake_treats_a_late_ack_as_slack_does() -> None:
    """The fake's own contract: a command not acked in 3 s fails for the user; a late event is
    sent again with X-Slack-Retry-Num on Slack's schedule — at once, after 1 minute, after 5
    minutes — while the late request goes on (so the adapter's dedup is what keeps it to one
    run); a non-2xx answer is retried as http_error unless it says X-Slack-No-Retry."""
    seen: list[tuple[str | None, str | None]] = []
    answers: list[web.Response] = []

    async def slow(request: web.Request) -> web.Response:
        seen.append((request.headers.get("X-Slack-Retry-Num"),
                     request.headers.get("X-Slack-Retry-Reason")))  # fmt: skip
        if answers:
            return answers.pop(0)
        await asyncio.sleep(0.5)
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/slack/events", slow)
    async with running_fake() as fake, serving(app) as base:
        fake.ack_deadline = 0.1  # the real one is 3 s; the rule is the same
        fake.time_scale = 0.001  # a minute of Slack's waiting passes in 60 ms
        url = f"{base}/slack/events"
        click = interactive(block_action("x", "U1", message_ts="1.1", response_url="http://x"))
        assert await fake.deliver(url, click) == (0, "operation_timeout")
        assert seen == [(None, None)] and fake.ack_failures[0]["error"] == "operation_timeout"
        seen.clear()
        fake.deliveries.clear()
        event = json.dumps(event_callback({"type": "app_mention", "text": "hi"}))
        assert await fake.deliver(url, event) == (0, "operation_timeout")
        timeout = "http_timeout"
        assert seen == [(None, None), ("1", timeout), ("2", timeout), ("3", timeout)]
        at = [d.at for d in fake.deliveries]
        gaps = [later - earlier for earlier, later in itertools.pairwise(at)]
        assert gaps[0] < 5 and 60 <= gaps[1] < 65 and 300 <= gaps[2] < 305, gaps
        # Every late request was answered in the end: Slack never cut one short.
        assert all(d.answer == (200, "") for d in fake.deliveries)

        seen.clear()
        answers.extend([web.Response(status=500), web.Response(text="ok")])
        assert await fake.deliver(url, event) == (200, "ok")
        assert seen == [(None, None), ("1", "http_error")]
        seen.clear()
        answers.append(web.Response(status=500, headers={"X-Slack-No-Retry": "1"}))
        assert (await fake.deliver(url, event))[0] == 500 and seen == [(None, None)]


async def test_an_event_slack_retries_on_its_schedule_runs_once(tmp_path: Path) -> None:
    """Squall acks too late for Slack (the fake's deadline is made tiny) on every try: Slack
    sends the event four times over six minutes, each one reaches Squall, one command runs."""
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        fake.ack_deadline = 0.0  # never in time, however fast Squall answers
        fake.time_scale = 0.001
        event = {"type": "app_mention", "user": "UALICE", "channel": "C0GENERAL",
                 "text": "<@UBOT> greet retried", "ts": "1700000900.000100"}  # fmt: skip
        assert (await sq.post(json.dumps(event_callback(event, "EvRetried"))))[0] == 0
        await fake.wait_for("chat.update")
        await asyncio.sleep(0.3)  # a second run would post by now
        runs = await sq.engine.store.executions.list(ExecutionQuery())
    assert [d.retry for d in fake.deliveries] == [None, "1", "2", "3"]
    assert {d.answer for d in fake.deliveries} == {(200, "")}, "each try reached Squall"
    assert fake.deliveries[-1].at - fake.deliveries[0].at >= 360
    assert len(runs) == 1 and len(fake.called("chat.postMessage")) == 1


async def test_socket_mode_acks_a_slow_click_within_three_seconds(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    async with running_fake() as fake, squall(tmp_path, fake, mode="socket") as sq:
        await fake.wait_connected()
        click = block_action(
            f"run chat_demo.slow gate={gate}", "UALICE", message_ts="1700000000.000001",
            response_url=fake.response_url("act-UALICE"),
        )  # fmt: skip
        ack = await fake.expect_ack(fake.push_envelope("interactive", click))
        assert ack is not None and fake.ack_failures == []
        async with asyncio.timeout(10):
            while not (running := await sq.engine.store.executions.list(ExecutionQuery())):
                await asyncio.sleep(0.05)
        assert running[0].status is not ExecutionStatus.SUCCEEDED  # acked before it finished
        gate.touch()
        async with asyncio.timeout(20):
            while (await sq.engine.store.executions.get(running[0].id)).status is not (
                ExecutionStatus.SUCCEEDED
            ):
                await asyncio.sleep(0.05)


# -- Slack: response_url lives 30 minutes ------------------------------------------------------
def _remember(adapter: object, url: str) -> None:
    event = ChatEvent(
        ChatIdentity("slack", "T1", "UCAROL"), ChatPlace("slack", "C0ALERTS"), "help",
        kind="command", reply_token=url,
    )  # fmt: skip
    adapter._remember_response_url(event)  # type: ignore[attr-defined]


async def test_a_response_url_is_not_used_after_thirty_minutes(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        adapter = sq.chat.delivery.adapters["slack"]
        adapter.clock = fake.now  # Squall's clock and Slack's move together
        _remember(adapter, fake.response_url("cmd-UCAROL"))
        note = OutgoingMessage(text="within", ephemeral=True, audience="UCAROL")
        await adapter.send(ChatPlace("slack", "C0ALERTS"), note)
        assert fake.response_url_uses["cmd-UCAROL"] == 1
        fake.advance(31 * MINUTE)
        late = OutgoingMessage(text="late", ephemeral=True, audience="UCAROL")
        await adapter.send(ChatPlace("slack", "C0ALERTS"), late)
        assert fake.response_url_uses["cmd-UCAROL"] == 1  # not tried: Slack would say 404
        [posted] = fake.called("chat.postEphemeral")
        assert posted.args["text"] == "late" and fake.rejected == []


async def test_a_response_url_slack_refuses_falls_back_to_post_ephemeral(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        adapter = sq.chat.delivery.adapters["slack"]
        url = fake.response_url("cmd-UCAROL")
        fake.advance(31 * MINUTE)  # Slack's url was already old when Squall got it
        _remember(adapter, url)
        note = OutgoingMessage(text="still seen", ephemeral=True, audience="UCAROL")
        await adapter.send(ChatPlace("slack", "C0ALERTS"), note)
        assert fake.rejected == [("response_url", {"error": "expired_url"})]
        [posted] = fake.called("chat.postEphemeral")
        assert posted.args["text"] == "still seen"  # the user still gets it
        await adapter.send(ChatPlace("slack", "C0ALERTS"), note)
        assert len(fake.rejected) == 1  # and the refused url is not tried again


# -- Discord: 3 s for the initial response, 15 minutes for the token ---------------------------
async def test_discord_refuses_a_late_initial_response_and_an_expired_token() -> None:
    """The fake's own contract, in Discord's error shapes."""
    async with running_discord() as fake, aiohttp.ClientSession() as http:
        late = fake._interaction(2, ALICE, {"name": "squall"})
        fake.advance(3.5)
        callback = f"{fake.api_base}/interactions/{late['id']}/{late['token']}/callback"
        async with http.post(callback, json={"type": 5}) as answer:
            assert answer.status == 404
            assert await answer.json() == {"message": "Unknown interaction", "code": 10062}
        fresh = fake._interaction(2, ALICE, {"name": "squall"})
        callback = f"{fake.api_base}/interactions/{fresh['id']}/{fresh['token']}/callback"
        async with http.post(callback, json={"type": 5}) as answer:
            assert answer.status == 200
        fake.advance(15 * MINUTE + 1)
        edit = f"{fake.api_base}/webhooks/{APP_ID}/{fresh['token']}/messages/@original"
        async with http.patch(edit, json={"content": "late"}) as answer:
            assert answer.status == 401
            assert await answer.json() == {"message": "Invalid Webhook Token", "code": 50027}


async def test_a_discord_command_is_deferred_in_time_and_its_card_outlives_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = tmp_path / "gate"
    async with running_discord() as fake, discord_squall(tmp_path, fake):
        monkeypatch.setattr(interactions, "clock", fake.now)  # Squall's and Discord's clocks
        interaction = await fake.slash("squall", text(f"run chat_demo.slow gate={gate}"), ALICE)
        [defer] = await fake.wait_for("POST", f"/interactions/{interaction['id']}/")
        assert defer.body["type"] == 5 and fake.rejected == []  # within 3 s
        await fake.wait_until(lambda: "chat_demo.slow" in embed_text(fake.original(interaction)))
        fake.advance(16 * MINUTE)  # the action outlives the interaction token
        gate.touch()
        await fake.wait_until(lambda: "succeeded" in embed_text(fake.original(interaction)))
        assert fake.rejected == []  # never the expired token: the bot edited in the channel
        [*_, last] = fake.called("PATCH", "/messages/")
        assert last.path.startswith(f"/channels/{CHANNEL_ID}/messages/")


# -- Discord: the gateway RESUMEs and gets what it missed ---------------------------------------
async def test_the_gateway_resumes_and_gets_the_events_it_missed(tmp_path: Path) -> None:
    async with running_discord() as fake, discord_squall(tmp_path, fake, prefix=True):
        await fake.drop_gateway()
        said = await fake.say(CHANNEL_ID, "!greet missed", ALICE)  # while disconnected
        await fake.wait_until(lambda: fake.resumes >= 1, timeout=20)
        assert fake.identifies == 1 and fake.identified_instead_of_resuming == 0
        assert fake.resume_paths == ["/resume-gateway"]  # READY's resume_gateway_url
        assert fake.replayed == ["MESSAGE_CREATE"]
        [post] = await fake.wait_for("POST", f"/channels/{CHANNEL_ID}/messages")
        assert str(post.body["message_reference"]["message_id"]) == said["id"]
        assert "greeting missed" in json.dumps(post.body)


async def test_an_op_7_reconnect_resumes_without_losing_or_doubling_a_message(
    tmp_path: Path,
) -> None:
    """Discord sends RECONNECT (op 7) before it moves a session: the adapter closes, RESUMEs
    on the resume URL, gets the message posted meanwhile once, and not the one it had."""
    async with running_discord() as fake, discord_squall(tmp_path, fake, prefix=True) as sq:
        before = await fake.say(CHANNEL_ID, "!greet before", ALICE)
        await fake.wait_for("POST", f"/channels/{CHANNEL_ID}/messages")
        await fake.request_reconnect()
        during = await fake.say(CHANNEL_ID, "!greet during", ALICE)  # waits for the RESUME
        await fake.wait_until(lambda: fake.resumes >= 1, timeout=20)
        await fake.wait_for("POST", f"/channels/{CHANNEL_ID}/messages", count=2)
        await asyncio.sleep(0.5)  # a doubled reply would be posted by now
        posts = fake.called("POST", f"/channels/{CHANNEL_ID}/messages")
        runs = await sq.engine.store.executions.list(ExecutionQuery())
    assert fake.reconnects_requested == 1 and fake.identifies == 1
    assert fake.identified_instead_of_resuming == 0 and fake.invalid_sessions == 0
    assert fake.resume_paths == ["/resume-gateway"]
    assert fake.replayed == ["MESSAGE_CREATE"], "only the message it missed is sent again"
    replied = [str(post.body["message_reference"]["message_id"]) for post in posts]
    assert replied == [before["id"], during["id"]]
    assert len(runs) == 2


async def test_a_card_edit_the_token_no_longer_allows_goes_through_the_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Squall's clock says the token still lives, Discord says 50027: the edit is not lost."""
    gate = tmp_path / "gate"
    async with running_discord() as fake, discord_squall(tmp_path, fake) as sq:
        monkeypatch.setattr(interactions, "clock", fake.now)
        monkeypatch.setattr(interactions, "TOKEN_SECONDS", 20 * MINUTE)
        interaction = await fake.slash("squall", text(f"run chat_demo.slow gate={gate}"), ALICE)
        await fake.wait_until(lambda: "chat_demo.slow" in embed_text(fake.original(interaction)))
        fake.advance(16 * MINUTE)
        gate.touch()
        await fake.wait_until(lambda: "succeeded" in embed_text(fake.original(interaction)))
        assert [problems for _, problems in fake.rejected] == [["Invalid Webhook Token"]]
        assert sq.chat.health()["adapters"]["discord"] == "connected"


async def test_a_private_reply_after_the_token_expired_stays_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Discord has no ephemeral message without a live interaction: a private reply that comes
    later goes to the person's DMs, never into the channel for everyone."""
    async with running_discord() as fake, discord_squall(tmp_path, fake) as sq:
        monkeypatch.setattr(interactions, "clock", fake.now)
        interaction = await fake.slash("squall", text("whoami"), ALICE)
        await fake.wait_for("POST", f"/interactions/{interaction['id']}/")
        adapter = sq.chat.delivery.adapters["discord"]
        fake.advance(16 * MINUTE)
        place = interaction_place(CHANNEL_ID, interaction["id"], direct=False)
        late = OutgoingMessage(text="only for alice", ephemeral=True, audience=ALICE["id"])
        await adapter.send(place, late)
        assert fake.called("POST", f"/channels/{CHANNEL_ID}/messages") == []
        [dm] = fake.called("POST", "/users/@me/channels")
        assert str(dm.body["recipient_id"]) == ALICE["id"]
        [post] = [c for c in fake.called("POST", "/messages") if "only for alice" in str(c.body)]
        assert post.path.startswith(f"/channels/{fake.dm_channel(ALICE['id'])}/")
        assert fake.rejected == []


async def test_a_reply_the_token_no_longer_allows_is_posted_in_the_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_discord() as fake, discord_squall(tmp_path, fake) as sq:
        monkeypatch.setattr(interactions, "clock", fake.now)
        monkeypatch.setattr(interactions, "TOKEN_SECONDS", 20 * MINUTE)  # Squall's clock is off
        interaction = await fake.slash("squall", text("whoami"), ALICE)
        await fake.wait_for("DELETE", f"/webhooks/{APP_ID}/{interaction['token']}")  # private
        fake.advance(16 * MINUTE)
        place = interaction_place(CHANNEL_ID, interaction["id"], direct=False)
        adapter = sq.chat.delivery.adapters["discord"]
        await adapter.send(place, OutgoingMessage(text="late but public"))
        assert [problems for _, problems in fake.rejected] == [["Invalid Webhook Token"]]
        [post] = fake.called("POST", f"/channels/{CHANNEL_ID}/messages")
        assert post.body["content"] == "late but public"


async def test_a_session_discord_forgot_is_identified_afresh(tmp_path: Path) -> None:
    async with running_discord() as fake, discord_squall(tmp_path, fake) as sq:
        fake.forget_session()
        await fake.drop_gateway()
        await fake.wait_until(lambda: fake.identifies >= 2, timeout=30)
        assert fake.invalid_sessions == 1 and fake.identified_instead_of_resuming == 0
        await fake.wait_ready()
        async with asyncio.timeout(10):
            while sq.chat.health()["adapters"]["discord"] != "connected":
                await asyncio.sleep(0.05)
        interaction = await fake.slash("squall", text("greet again"), ALICE)
        await fake.wait_until(lambda: "succeeded" in embed_text(fake.original(interaction)))

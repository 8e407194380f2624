"""Slack payloads ⇄ chat models (adapters/slack/convert.py): pure translations."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from adapters.slack.convert import (
    FORM_ACTION,
    action_event,
    command_event,
    escape,
    message_event,
    modal_event,
    response_modal,
    to_slack,
    unescape,
)
from core.models.approval import Approval
from core.models.chat import Button, ChatPlace, Field, OutgoingMessage


def test_escape_and_unescape() -> None:
    assert escape("a < b && c > d") == "a &lt; b &amp;&amp; c &gt; d"
    typed = "<@UBOT> deploy <https://x.io/a|x.io> to <#C123|prod> for <@U9> &lt;now&gt;"
    assert unescape(typed, "UBOT") == "deploy https://x.io/a to #prod for @U9 <now>"
    assert unescape("mail <mailto:a@b.c|a@b.c>") == "mail a@b.c"


def test_a_channel_message_and_a_dm() -> None:
    event = {"type": "message", "user": "U1", "channel": "C1", "text": "!noop", "ts": "1.2",
             "channel_type": "channel"}  # fmt: skip
    chat = message_event(event, "T1", "UBOT", mention=False)
    assert chat is not None
    assert chat.identity.key == "slack:T1:U1"
    assert (chat.place.channel, chat.place.message_id, chat.place.is_direct) == ("C1", "1.2", False)
    dm = message_event(
        {**event, "channel_type": "im", "channel": "D1"}, "T1", "UBOT", mention=False
    )
    assert dm is not None and dm.place.is_direct


def test_edits_joins_and_mention_duplicates_are_not_commands() -> None:
    base = {"type": "message", "user": "U1", "channel": "C1", "text": "x", "ts": "1"}
    assert (
        message_event({**base, "subtype": "message_changed"}, "T1", "UBOT", mention=False) is None
    )
    assert message_event({**base, "subtype": "channel_join"}, "T1", "UBOT", mention=False) is None
    mentioned = {**base, "text": "<@UBOT> help", "channel_type": "channel"}
    assert message_event(mentioned, "T1", "UBOT", mention=False) is None  # app_mention has it
    chat = message_event(mentioned, "T1", "UBOT", mention=True)
    assert chat is not None and chat.text == "help" and chat.mentioned


def test_other_bots_are_marked() -> None:
    event = {"type": "message", "bot_id": "B9", "subtype": "bot_message", "channel": "C1",
             "text": "!deploy", "ts": "1"}  # fmt: skip
    assert message_event(event, "T1", "UBOT", mention=False) is None  # bot_message subtype
    plain_bot = {"type": "message", "bot_id": "B9", "user": "U7", "channel": "C1",
                 "text": "!deploy", "ts": "1"}  # fmt: skip
    chat = message_event(plain_bot, "T1", "UBOT", mention=False)
    assert chat is not None and chat.from_bot


def test_slash_command_is_a_message_for_the_bot() -> None:
    chat = command_event(
        {
            "team_id": "T1",
            "user_id": "U1",
            "channel_id": "C1",
            "channel_name": "general",
            "text": "deploy &lt;web&gt;",
            "response_url": "https://hooks/x",
        }
    )
    assert (chat.text, chat.kind, chat.mentioned, chat.reply_token) == (
        "deploy <web>",
        "command",
        True,
        "https://hooks/x",
    )
    dm = command_event({"user_id": "U1", "channel_id": "D1", "channel_name": "directmessage"})
    assert dm.place.is_direct


def test_a_click_is_its_buttons_command() -> None:
    body = {
        "user": {"id": "U2", "team_id": "T1"},
        "team": {"id": "T1"},
        "channel": {"id": "C1"},
        "message": {"ts": "9.9"},
        "response_url": "https://r",
    }
    chat = action_event(body, {"value": "approve abc"})
    assert chat is not None
    assert (chat.text, chat.kind, chat.identity.key, chat.place.thread) == (
        "approve abc",
        "button",
        "slack:T1:U2",
        "9.9",
    )
    assert action_event(body, {"action_id": "x"}) is None


def test_a_card_as_block_kit() -> None:
    card = OutgoingMessage(
        text="done <ok>",
        title="core.echo",
        status="succeeded",
        fields=(Field("return_code", "0"),),
        code="a```b & c",
        buttons=(Button("Re-run", "rerun e1"), Button("Stop", "cancel e1", "danger")),
        footer="execution e1 · 0.10s",
    )
    payload = to_slack(card)
    kinds = [b["type"] for b in payload["blocks"]]
    assert kinds == ["header", "section", "section", "section", "actions", "context"]
    assert payload["blocks"][0]["text"]["text"] == ":white_check_mark: core.echo · succeeded"
    assert payload["blocks"][1]["text"]["text"] == "done &lt;ok&gt;"
    assert payload["blocks"][3]["text"]["text"] == "```a`\u200b``b &amp; c```"
    buttons = payload["blocks"][4]["elements"]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        ("squall-0", "rerun e1"),
        ("squall-1", "cancel e1"),
    ]
    assert "style" not in buttons[0] and buttons[1]["style"] == "danger"
    assert payload["text"] == "core.echo · succeeded: done &lt;ok&gt;"


def test_long_texts_are_cut_to_slacks_limits() -> None:
    payload = to_slack(OutgoingMessage(text="x" * 5000, title="t" * 400))
    assert len(payload["blocks"][0]["text"]["text"]) <= 150
    assert len(payload["blocks"][1]["text"]["text"]) <= 3000


def approval(schema: dict[str, object]) -> Approval:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Approval(id="ap1", title="Why?", requester="alice", created_at=now, schema=schema)


def test_default_approvals_need_no_form_but_others_do() -> None:
    plain = to_slack(OutgoingMessage(title="t", approval=approval(
        {"type": "object", "properties": {"approved": {"type": "boolean"}},
         "required": ["approved"], "additionalProperties": False})))  # fmt: skip
    assert all(b["type"] != "actions" for b in plain["blocks"])
    custom = to_slack(OutgoingMessage(title="t", approval=approval(
        {"type": "object", "properties": {"reason": {"type": "string"}}})))  # fmt: skip
    [form] = next(b for b in custom["blocks"] if b["type"] == "actions")["elements"]
    assert form["action_id"] == FORM_ACTION and json.loads(form["value"]) == {"approval": "ap1"}


def test_the_modal_round_trip_types_the_answers() -> None:
    schema = {
        "type": "object",
        "properties": {
            "reason": {"type": "string", "title": "Why"},
            "count": {"type": "integer"},
            "urgent": {"type": "boolean"},
            "env": {"enum": ["staging", "prod"]},
        },
        "required": ["reason"],
    }
    view = response_modal("ap1", schema, "Why?", ChatPlace("slack", "C1", thread="5.5"))
    inputs = view["blocks"][1:]
    assert [b["block_id"] for b in inputs] == ["reason", "count", "urgent", "env"]
    assert [b["element"]["type"] for b in inputs] == [
        "plain_text_input",
        "number_input",
        "static_select",
        "static_select",
    ]
    assert [b["optional"] for b in inputs] == [False, True, True, True]
    state = {
        "reason": {"value": {"value": "Friday"}},
        "count": {"value": {"value": "3"}},
        "urgent": {"value": {"selected_option": {"value": "true"}}},
        "env": {"value": {"selected_option": {"value": '"prod"'}}},
    }
    body = {"user": {"id": "U2", "team_id": "T1"}, "view": {**view, "state": {"values": state}}}
    chat = modal_event(body)
    assert chat is not None and chat.place.thread == "5.5"
    command, approval_id, answer = chat.text.split(maxsplit=2)
    assert (command, approval_id) == ("respond", "ap1")
    assert json.loads(answer) == {"reason": "Friday", "count": 3, "urgent": True, "env": "prod"}

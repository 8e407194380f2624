"""Chat payloads the platforms would reject, caught by fakes that enforce the real limits
(security.md row 55, issue 16 §10-11). An approver must see everything they approve: a card
with 30 long parameters does not fit Slack's 10 fields of 2000 characters, so the card says so
and the whole request is attached."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from adapters.base import ChatEvent, ChatIdentity, ChatPlace
from adapters.discord.adapter import DISCORD_CAPABILITIES
from adapters.discord.convert import embed
from adapters.discord.interactions import TOKEN_SECONDS, Pending, forget_expired
from adapters.slack import SlackAdapter, SlackConfig
from adapters.slack.convert import response_modal, to_slack
from bot.chat.cards import approval_card, fit_approval_card
from core.aliases.commands import alias_commands
from core.approvals.service import ApprovalRequest
from core.authz.authorizer import SquallUser
from core.models import Action, Alias, AliasFormat
from core.models.approval import Approval, ApprovalStatus
from core.models.chat import Button, Field, OutgoingMessage
from tests.fakes.discord_limits import command_problems, message_problems
from tests.fakes.slack import running_fake
from tests.fakes.slack_limits import block_errors, view_errors
from tests.integration.test_slack import no_proxy, squall  # noqa: F401 (fixture)

PARAMETERS = {f"param_{n:02d}": f"value {n} " + "x" * 2500 for n in range(30)}


async def test_an_approval_card_with_thirty_long_parameters_shows_everything(
    tmp_path: Path,
) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        approval = await sq.engine.approvals.create(
            ApprovalRequest(
                title="Run demo.big for alice?",
                subject={"kind": "test", "parameters": PARAMETERS},
                approvers=("bob",),
            ),
            requester=SquallUser("alice", ("default",)),
            place={"adapter": "slack", "channel": "C0ALERTS"},
        )
        sent = await sq.chat.approval_cards.post(ChatPlace("slack", "C0ALERTS"), approval)
        assert sent is not None, fake.rejected
        assert fake.rejected == []
        [card] = fake.called("chat.postMessage")
        shown = json.dumps(card.args["blocks"])
        assert "the full request is attached" in shown
        attached = b"".join(fake.uploads.values()).decode()
        for name, value in PARAMETERS.items():
            assert value in attached, name  # every value, whole


def test_a_button_whose_command_does_not_fit_is_left_off_not_cut() -> None:
    long_command = "respond abc " + json.dumps({"choice": "y" * 2100})
    message = OutgoingMessage(
        text="pick", buttons=(Button("short", "approve abc"), Button("long", long_command))
    )
    payload = to_slack(message)
    assert block_errors(payload["blocks"]) == []
    values = [
        e["value"] for b in payload["blocks"] if b["type"] == "actions" for e in b["elements"]
    ]
    assert values == ["approve abc"]  # never a cut command that means something else


def test_a_form_with_long_choices_and_many_fields_is_valid_for_slack() -> None:
    schema = {
        "type": "object",
        "properties": {
            **{f"f{n}": {"type": "string"} for n in range(120)},
            "pick": {"type": "string", "enum": ["z" * 200, "short"]},
        },
    }
    view = response_modal("abc", schema, "Answer?", ChatPlace("slack", "C1"))
    assert view_errors(view) == []
    assert "respond abc" in json.dumps(view["blocks"])  # the rest: type the answer


# -- Discord ----------------------------------------------------------------------------------
def test_a_discord_card_keeps_its_embeds_under_6000_characters() -> None:
    message = OutgoingMessage(
        title="core.local", status="succeeded", text="t" * 3000, code="c" * 3900,
        fields=tuple(Field(f"f{n}", "v" * 1000) for n in range(25)), footer="execution 1",
    )  # fmt: skip
    assert message_problems({"embeds": [embed(message)]}) == []


def test_a_discord_approval_card_with_thirty_long_parameters_attaches_the_request() -> None:
    approval = Approval(
        id="a1", title="Run it?", requester="alice", created_at=datetime.now(UTC),
        approvers=("bob",), subject={"kind": "test", "parameters": PARAMETERS},
    )  # fmt: skip
    card = fit_approval_card(approval_card(approval), approval, DISCORD_CAPABILITIES)
    assert message_problems({"embeds": [embed(card)]}) == []
    assert card.attachment is not None
    assert all(value in card.attachment.content for value in PARAMETERS.values())
    assert "the full request is attached" in card.fields[-1].value


def fmt(n: int) -> str:
    return f"a{n} {{{{env}}}} {{{{size}}}} {{{{p00}}}} {{{{p01}}}}"


def test_discord_alias_commands_stay_within_discords_limits() -> None:
    many = {f"p{n:02d}": {"type": "string", "description": "d" * 100} for n in range(30)}
    schema = {
        **many,
        "env": {"type": "string", "enum": ["e" * 150, "prod"]},
        "size": {"type": "string", "enum": [f"s{n}" for n in range(30)]},
    }
    wide = "wide " + " ".join(f"{{{{p{n:02d}}}}}" for n in range(30))
    aliases = [
        Alias("demo", "wide", "demo.act", formats=(AliasFormat(wide, (wide,)),)),
        *(
            Alias("demo", f"a{n}", "demo.act", description="x" * 100,
                  formats=(AliasFormat(fmt(n), (fmt(n),)),))
            for n in range(40)
        ),
    ]  # fmt: skip
    action = Action(pack="demo", name="act", runner_type="noop", pack_path=Path("/p"))
    made = alias_commands(aliases, {"demo.act": action}, {"demo.act": schema})
    group = {
        "name": "alias", "description": "Run an alias with typed options",
        "options": [
            {"name": s.name, "description": s.description, "options": [
                {"name": o.name, "description": o.description,
                 "choices": [{"name": str(c), "value": c} for c in o.choices]}
                for o in s.options
            ]}
            for s in made
        ],
    }  # fmt: skip
    assert made and "wide" not in {s.name for s in made}  # 30 options: typed text only
    assert command_problems([group]) == []


# -- response_url uses and what the adapters remember -----------------------------------------
async def test_a_response_url_is_used_at_most_five_times(tmp_path: Path) -> None:
    async with running_fake() as fake, squall(tmp_path, fake) as sq:
        adapter = sq.chat.delivery.adapters["slack"]
        url = fake.response_url("cmd-UCAROL")
        event = ChatEvent(
            ChatIdentity("slack", "T1", "UCAROL"), ChatPlace("slack", "C0ALERTS"), "help",
            kind="command", reply_token=url,
        )  # fmt: skip
        adapter._remember_response_url(event)  # as a slash command does
        for n in range(7):
            note = OutgoingMessage(text=f"note {n}", ephemeral=True, audience="UCAROL")
            await adapter.send(ChatPlace("slack", "C0ALERTS"), note)
        assert fake.response_url_uses["cmd-UCAROL"] == 5  # never a sixth (Slack: 404)
        assert len(fake.called("chat.postEphemeral")) == 2
        assert fake.rejected == []


def test_the_slack_adapter_forgets_response_urls_and_decided_approvals() -> None:
    adapter = SlackAdapter(SlackConfig(bot_token="xoxb-test", mode="http", signing_secret="s"))
    for n in range(1500):
        event = ChatEvent(
            ChatIdentity("slack", "T1", f"U{n}"), ChatPlace("slack", "C1"), "x",
            reply_token=f"https://hooks/{n}",
        )  # fmt: skip
        adapter._remember_response_url(event)
    assert len(adapter._response_urls) == 1000
    pending = Approval(id="a1", title="t", requester="r", created_at=datetime.now(UTC))
    adapter._remember(OutgoingMessage(approval=pending))
    assert "a1" in adapter._approvals
    decided = pending.decide(ApprovalStatus.APPROVED, at=datetime.now(UTC), by="bob")
    adapter._remember(OutgoingMessage(approval=decided))
    assert "a1" not in adapter._approvals


def test_the_discord_adapter_forgets_interactions_whose_token_expired() -> None:
    old = Pending(SimpleNamespace(id=1), created=time.monotonic() - TOKEN_SECONDS - 1)  # type: ignore[arg-type]
    new = Pending(SimpleNamespace(id=2))  # type: ignore[arg-type]
    pending = {"1": old, "2": new}
    owners = {10: (old, True), 20: (new, False)}
    forget_expired(pending, owners)
    assert list(pending) == ["2"] and list(owners) == [20]

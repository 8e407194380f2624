"""Discord payloads ⇄ chat models (adapters/discord/convert.py): pure translations."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.discord.convert import (
    button_specs,
    embed,
    form_fields,
    form_response,
    identity,
    interaction_of,
    interaction_place,
    message_text,
    plain_content,
)
from core.models.approval import Approval
from core.models.chat import Button, Field, OutgoingMessage


def test_identities_and_interaction_places() -> None:
    assert identity(42, 7).key == "discord:42:7"
    assert identity(None, 7).key == "discord:dm:7"
    place = interaction_place(5, 99, direct=False)
    assert (place.channel, interaction_of(place)) == ("5", "99")
    assert interaction_of(interaction_place(5, 1, direct=True)) == "1"


def test_message_text_strips_the_bots_mention() -> None:
    assert message_text("<@123> deploy web", 123) == ("deploy web", True)
    assert message_text("<@!123> help", 123) == ("help", True)
    assert message_text("!help <@999>", 123) == ("!help <@999>", False)


def test_a_card_is_an_embed_with_the_pretext_outside() -> None:
    card = OutgoingMessage(
        text="done", pretext="heads up", title="core.echo", status="succeeded",
        fields=(Field("return_code", "0"),), code="a```b", footer="execution e1",
    )  # fmt: skip
    data = embed(card)
    assert data is not None
    assert data["title"] == "core.echo · succeeded" and data["color"] == 0x2EB67D
    assert data["description"] == "done\n```\na`\u200b``b\n```"
    assert data["fields"] == [{"name": "return_code", "value": "0", "inline": True}]
    assert data["footer"] == {"text": "execution e1"}
    assert plain_content(card) == "heads up"
    reply = OutgoingMessage(text="You are alice")
    assert embed(reply) is None and plain_content(reply) == "You are alice"


def test_buttons_carry_their_commands_and_long_ones_are_left_out() -> None:
    card = OutgoingMessage(
        buttons=(Button("Cancel", "cancel e1", "danger"), Button("Huge", "respond x " + "y" * 200))
    )
    [cancel] = button_specs(card)
    assert (cancel.custom_id, cancel.style) == ("sq:cancel e1", "danger")


def approval(schema: dict[str, object]) -> Approval:
    return Approval(
        id="ap1", title="Why?", requester="alice", created_at=datetime(2026, 1, 1, tzinfo=UTC),
        schema=schema,
    )  # fmt: skip


def test_a_schema_approval_gets_a_form_button_and_typed_answers() -> None:
    schema = {
        "type": "object",
        "properties": {"reason": {"type": "string"}, "count": {"type": "integer"},
                       "urgent": {"type": "boolean"}, "env": {"enum": ["a", "b"]}},
        "required": ["reason"],
    }  # fmt: skip
    [form] = button_specs(OutgoingMessage(approval=approval(schema)))
    assert form.custom_id == "sqform:ap1"
    fields = form_fields(schema)
    assert [(f.name, f.required) for f in fields] == [
        ("reason", True),
        ("count", False),
        ("urgent", False),
        ("env", False),
    ]
    assert fields[3].label == 'env ("a" | "b")'
    answer = form_response(schema, {"reason": "x", "count": "3", "urgent": "yes", "env": "a"})
    assert answer == {"reason": "x", "count": 3, "urgent": True, "env": "a"}
    assert form_response(schema, {"reason": "x", "count": ""}) == {"reason": "x"}

"""The console's rendering of outgoing messages: cards, fields, code, buttons as commands."""

from __future__ import annotations

from adapters.console.convert import UPDATED_MARKER, to_lines
from core.models.chat import Attachment, Button, ChatPlace, Field, OutgoingMessage

PLACE = ChatPlace("console", "ops")


def test_plain_reply_is_one_line_with_its_channel() -> None:
    assert to_lines(PLACE, OutgoingMessage(text="pong")) == ["[#ops] pong"]


def test_card_shows_title_status_fields_code_buttons_and_footer() -> None:
    message = OutgoingMessage(
        text="deploying",
        title="core.local",
        status="running",
        fields=(Field("return_code", "0"),),
        code="line 1\nline 2",
        buttons=(Button("Cancel", "cancel 42", "danger"),),
        footer="execution 42",
    )
    assert to_lines(PLACE, message) == [
        "[#ops] core.local (running)",
        "deploying",
        "  return_code: 0",
        "    line 1",
        "    line 2",
        "  [Cancel] type: cancel 42",
        "  execution 42",
    ]


def test_an_edit_is_marked_and_a_whisper_says_so() -> None:
    message = OutgoingMessage(title="core.noop", status="succeeded", ephemeral=True)
    assert to_lines(PLACE, message, edited=True) == [
        f"[#ops] {UPDATED_MARKER} core.noop (succeeded)"
    ]


def test_attachment_is_named_with_its_size() -> None:
    message = OutgoingMessage(text="long", attachment=Attachment("out.txt", "x" * 12))
    assert to_lines(PLACE, message)[-1] == "  attached: out.txt (12 chars)"


def test_empty_code_block_still_shows_a_line() -> None:
    assert to_lines(PLACE, OutgoingMessage(title="t", code="")) == ["[#ops] t", "    "]

"""errbot messages ⇄ chat models, and cards as Markdown text. Pure: no errbot import.

errbot renders Markdown for each backend (plain text for Text/IRC, rich text elsewhere), so a
card is Markdown: a bold title with its status, the text, ``key: value`` fields, the output in a
fenced block, and each button as the command to type (errbot has no buttons).
"""

from __future__ import annotations

from core.models.chat import ChatEvent, ChatIdentity, ChatPlace, OutgoingMessage

__all__ = ["incoming_event", "to_markdown"]


def incoming_event(
    *,
    adapter: str,
    backend: str,
    person: str,
    room: str | None,
    sender: str,
    text: str,
    prefixed: bool,
    display_name: str = "",
) -> ChatEvent:
    """One errbot message: ``person`` is errbot's ACL identifier of who spoke (``aclattr``),
    ``sender`` the identifier to answer a direct message to, ``room`` the room if any.
    ``prefixed``: it began with errbot's prefix (already removed)."""
    direct = room is None
    return ChatEvent(
        identity=ChatIdentity(adapter, backend, person),
        place=ChatPlace(adapter, room or sender, is_direct=direct),
        text=text,
        display_name=display_name or person,
        mentioned=prefixed,  # errbot's prefix is how the bot is addressed
    )


def _fence(code: str) -> str:
    return "```\n" + code.replace("```", "'''") + "\n```"


def to_markdown(message: OutgoingMessage) -> str:
    """Blocks apart by a blank line; lines inside a block apart by a plain newline.

    Not Markdown's hard break (two spaces, newline): errbot's text renderers (Text, IRC,
    Telegram and the test backend) drop a ``<br>`` together with its newline, so every line of a
    block ran into the next. A plain newline stays a newline in those renderers and in the
    backends that post Markdown as it is.
    """
    head = " · ".join(part for part in (message.title, message.status) if part)
    blocks = [
        [f"**{head}**"] if head else [],
        [line for part in (message.pretext, message.text) if part for line in part.splitlines()],
        [f"{f.title}: {f.value}" for f in message.fields],
        [_fence(message.code)] if message.code else [],
        [f"→ {b.label}: `{b.command}`" for b in message.buttons],
        [f"(full output: {len(message.attachment.content)} characters, not shown)"]
        if message.attachment is not None
        else [],
        [f"_{message.footer}_"] if message.footer else [],
    ]
    return "\n\n".join("\n".join(block) for block in blocks if block)

"""OutgoingMessage → terminal text. Pure: no I/O, so every card shape is unit-tested here."""

from __future__ import annotations

from core.models.chat import ChatPlace, OutgoingMessage

CODE_INDENT = "    "
UPDATED_MARKER = "↻ updated"


def header(place: ChatPlace, message: OutgoingMessage, *, edited: bool) -> str:
    """``[#channel] ↻ updated Title (status)``. (The terminal has one reader, so a private
    reply looks like any other.)"""
    parts = [f"[#{place.channel}]"]
    if edited:
        parts.append(UPDATED_MARKER)
    if message.title:
        parts.append(message.title)
    if message.status:
        parts.append(f"({message.status})")
    return " ".join(parts)


def field_lines(message: OutgoingMessage) -> list[str]:
    return [f"  {f.title}: {f.value}" for f in message.fields]


def code_lines(code: str | None) -> list[str]:
    if code is None:
        return []
    return [f"{CODE_INDENT}{line}" for line in code.splitlines() or [""]]


def button_lines(message: OutgoingMessage) -> list[str]:
    # The console has no clickable buttons: show the command each one stands for.
    return [f"  [{b.label}] type: {b.command}" for b in message.buttons]


def to_lines(place: ChatPlace, message: OutgoingMessage, *, edited: bool = False) -> list[str]:
    """The lines the console prints for ``message`` (a card re-printed on edit)."""
    lines = [header(place, message, edited=edited)]
    if message.pretext:
        lines.append(message.pretext)
    text = message.text.splitlines()
    if text and not (message.title or message.status):  # a plain reply reads as one line
        lines[0] = f"{lines[0]} {text.pop(0)}"
    lines.extend(text)
    lines.extend(field_lines(message))
    lines.extend(code_lines(message.code))
    lines.extend(button_lines(message))
    if message.attachment is not None:
        size = len(message.attachment.content)
        lines.append(f"  attached: {message.attachment.filename} ({size} chars)")
    if message.footer:
        lines.append(f"  {message.footer}")
    return lines

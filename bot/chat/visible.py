"""Bidirectional-text controls shown, not obeyed (Trojan Source, security.md row 56).

U+202E (RIGHT-TO-LEFT OVERRIDE) and its kin reorder how the text after them is displayed: a
parameter ``txt.exe`` can read as ``exe.txt`` on an approval card, or output can disguise a
command. Typed chat values holding them are refused (core.aliases.params); whatever reaches a
card another way (action output, pack text) has each one replaced by a visible ``<U+202E>``
before it is posted. Button commands are left exact: they are parsed, not read.
"""

from __future__ import annotations

import re
from dataclasses import replace

from core.models.chat import Attachment, Button, Field, OutgoingMessage

# Embeddings, overrides, isolates and their terminators; the implicit marks (LRM/RLM/ALM)
# cannot reorder text on their own and stay.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    return BIDI_CONTROLS.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)


def _maybe(text: str | None) -> str | None:
    return None if text is None else visible(text)


def show_bidi_controls(message: OutgoingMessage) -> OutgoingMessage:
    """``message`` with every bidi control in what people read made visible."""
    attachment = message.attachment
    return replace(
        message,
        text=visible(message.text),
        pretext=_maybe(message.pretext),
        title=_maybe(message.title),
        fields=tuple(Field(visible(f.title), visible(f.value), f.short) for f in message.fields),
        code=_maybe(message.code),
        buttons=tuple(Button(visible(b.label), b.command, b.style) for b in message.buttons),
        footer=_maybe(message.footer),
        attachment=None
        if attachment is None
        else Attachment(attachment.filename, visible(attachment.content)),
    )

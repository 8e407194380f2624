"""Discord ⇄ Squall's chat models. Pure: plain values in, plain values (dicts) out.

Identities are ``discord:<guild_id>:<user_id>`` (``discord:dm:<user_id>`` in direct messages).
An interaction's place carries its id as the thread (``interaction:<id>``), so the reply to a
slash command or a click can be the interaction's own response (edit the deferred original,
then follow up). Buttons carry their text command in the ``custom_id`` (``sq:<command>``), which
survives a restart; a card's embed holds title, status colour, text, fields, output and footer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from core.models.approval import APPROVE_OR_DENY, Approval, ApprovalStatus
from core.models.chat import ChatIdentity, ChatPlace, OutgoingMessage

__all__ = [
    "BUTTON_PREFIX",
    "FORM_PREFIX",
    "ButtonSpec",
    "FormField",
    "button_specs",
    "embed",
    "form_fields",
    "form_response",
    "identity",
    "interaction_of",
    "interaction_place",
    "message_text",
    "needs_form",
]

BUTTON_PREFIX: Final = "sq:"
FORM_PREFIX: Final = "sqform:"
CUSTOM_ID_LIMIT: Final = 100
EMBED_TOTAL: Final = 6000  # characters across a message's embeds
_INTERACTION: Final = "interaction:"
_COLORS: Final[Mapping[str, int]] = {
    "succeeded": 0x2EB67D, "approved": 0x2EB67D,
    "failed": 0xE01E5A, "abandoned": 0xE01E5A, "denied": 0xE01E5A,
    "timeout": 0xECB22E, "expired": 0xECB22E,
    "canceled": 0x616061,
    "awaiting approval": 0xF2C744,
}  # fmt: skip
_IN_PROGRESS: Final = 0x36C5F0
_STYLES: Final = {"primary": "primary", "danger": "danger"}


def identity(guild_id: int | str | None, user_id: int | str) -> ChatIdentity:
    return ChatIdentity("discord", str(guild_id) if guild_id else "dm", str(user_id))


def interaction_place(
    channel_id: int | str, interaction_id: int | str, *, direct: bool
) -> ChatPlace:
    return ChatPlace(
        "discord", str(channel_id), thread=f"{_INTERACTION}{interaction_id}", is_direct=direct
    )


def interaction_of(place: ChatPlace) -> str | None:
    """The interaction a reply belongs to, if the place came from one."""
    thread = place.thread or ""
    return thread[len(_INTERACTION) :] if thread.startswith(_INTERACTION) else None


def message_text(content: str, bot_user_id: int | str | None) -> tuple[str, bool]:
    """A message's text without the bot's mention, and whether it mentioned the bot."""
    if bot_user_id is None:
        return content.strip(), False
    mention = re.compile(rf"<@!?{re.escape(str(bot_user_id))}>")
    return mention.sub("", content).strip(), bool(mention.search(content))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _code(code: str) -> str:
    return "```\n" + code.replace("```", "`\u200b``") + "\n```"


def embed(message: OutgoingMessage) -> dict[str, Any] | None:
    """The card as a Discord embed (limits: title 256, description 4096, 25 fields)."""
    if not (message.title or message.status or message.fields or message.code or message.footer):
        return None
    title = " · ".join(part for part in (message.title, message.status) if part)
    description = "\n".join(
        part for part in (message.text, _code(message.code) if message.code else "") if part
    )
    data: dict[str, Any] = {
        "type": "rich",
        "color": _COLORS.get(message.status or "", _IN_PROGRESS),
    }
    if title:
        data["title"] = _cut(title, 256)
    if description:
        data["description"] = _cut(description, 4096)
    if message.fields:
        data["fields"] = [
            {"name": _cut(f.title, 256), "value": _cut(f.value or "-", 1024), "inline": f.short}
            for f in message.fields[:25]
        ]
    if message.footer:
        data["footer"] = {"text": _cut(message.footer, 2048)}
    return _within_total(data)


def _embed_size(data: Mapping[str, Any]) -> int:
    fields = data.get("fields") or []
    return (
        len(data.get("title") or "")
        + len(data.get("description") or "")
        + len((data.get("footer") or {}).get("text") or "")
        + sum(len(f["name"]) + len(f["value"]) for f in fields)
    )


def _within_total(data: dict[str, Any]) -> dict[str, Any]:
    """Discord refuses a message whose embeds hold over 6000 characters: cut the description
    first, then field values from the last one (approval cards attach the whole request, and
    long output is attached by the card builder)."""
    over = _embed_size(data) - EMBED_TOTAL
    if over > 0 and data.get("description"):
        keep = max(1, len(data["description"]) - over)
        data["description"] = _cut(data["description"], keep)
        over = _embed_size(data) - EMBED_TOTAL
    for field in reversed(data.get("fields") or []):
        if over <= 0:
            break
        keep = max(1, len(field["value"]) - over)
        over -= len(field["value"]) - keep
        field["value"] = _cut(field["value"], keep)
    return data


def plain_content(message: OutgoingMessage) -> str | None:
    """Text outside the embed: the pretext, or the whole text of a card-less reply."""
    if embed(message) is None:
        return _cut(message.text, 2000) or None
    return _cut(message.pretext, 2000) if message.pretext else None


@dataclass(frozen=True)
class ButtonSpec:
    label: str
    custom_id: str
    style: str  # primary | danger | secondary


def button_specs(message: OutgoingMessage) -> list[ButtonSpec]:
    """A button per command (skipped when its command cannot fit a custom_id), plus a form
    button for approvals that ask for more than approve/deny."""
    specs = [
        ButtonSpec(_cut(b.label, 80), BUTTON_PREFIX + b.command, _STYLES.get(b.style, "secondary"))
        for b in message.buttons
        if len(BUTTON_PREFIX + b.command) <= CUSTOM_ID_LIMIT
    ]
    if message.approval is not None and needs_form(message.approval):
        specs.append(ButtonSpec("Respond…", FORM_PREFIX + message.approval.id, "primary"))
    return specs[:25]


def needs_form(approval: Approval) -> bool:
    return approval.status is ApprovalStatus.PENDING and approval.schema != APPROVE_OR_DENY


@dataclass(frozen=True)
class FormField:
    name: str
    label: str
    required: bool
    multiline: bool


def form_fields(schema: Mapping[str, Any]) -> list[FormField]:
    """One text input per schema property (Discord modals take at most five)."""
    required = set(schema.get("required") or ())
    fields = []
    for name, spec in list((schema.get("properties") or {}).items())[:5]:
        spec = spec if isinstance(spec, Mapping) else {}
        label = str(spec.get("title") or spec.get("description") or name)
        kind = spec.get("type")
        if spec.get("enum"):
            label = f"{label} ({' | '.join(json.dumps(c) for c in spec['enum'])})"
        elif kind in ("integer", "number", "boolean"):
            label = f"{label} ({kind})"
        fields.append(
            FormField(str(name), _cut(label, 45), name in required, kind in ("object", "array"))
        )
    return fields


def form_response(schema: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """The modal's text values typed by the schema (the schema check reports what is off)."""
    properties = schema.get("properties") or {}
    response: dict[str, Any] = {}
    for name, raw in values.items():
        if raw == "":
            continue
        spec = properties.get(name) if isinstance(properties.get(name), Mapping) else {}
        response[name] = _typed(spec or {}, raw.strip())
    return response


def _typed(spec: Mapping[str, Any], raw: str) -> Any:
    kind = spec.get("type")
    try:
        if kind == "boolean":
            return {"true": True, "yes": True, "false": False, "no": False}.get(raw.lower(), raw)
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
        if kind in ("array", "object") or spec.get("enum"):
            return json.loads(raw)
    except ValueError:
        return raw
    return raw

"""Slack payloads ⇄ Squall's chat models. Pure: no I/O, no SDK objects, only dicts.

Inbound: Events API message / app_mention events, slash commands, block actions and modal
submissions become ``ChatEvent``s; a button's ``value`` is the text command it stands for.
Outbound: an ``OutgoingMessage`` becomes Block Kit — header (title and status), text, fields,
the output as a code block, buttons, and a context line — with ``& < >`` escaped in every piece
of text that came from outside. Approval cards whose response schema asks for more than
approve/deny get a "Respond…" button that opens a modal built from that schema.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from core.models.approval import APPROVE_OR_DENY, Approval, ApprovalStatus
from core.models.chat import Button, ChatEvent, ChatIdentity, ChatPlace, OutgoingMessage

__all__ = [
    "ACTION_PREFIX",
    "FORM_ACTION",
    "MODAL_CALLBACK",
    "action_event",
    "command_event",
    "escape",
    "form_choices",
    "message_event",
    "modal_event",
    "response_modal",
    "to_slack",
    "unescape",
]

ACTION_PREFIX: Final = "squall"  # every action_id Squall puts on a button starts with it
FORM_ACTION: Final = "squall-form"
MODAL_CALLBACK: Final = "squall-respond"
SECTION_LIMIT: Final = 3000
HEADER_LIMIT: Final = 150
MAX_FIELDS: Final = 10
MAX_BUTTONS: Final = 25
BUTTON_VALUE_LIMIT: Final = 2000
OPTION_VALUE_LIMIT: Final = 150  # a select option's value
MODAL_INPUTS: Final = 98  # 100 blocks per modal: the title, the inputs, one "more" note

_STATUS_EMOJI: Final[Mapping[str, str]] = {
    "succeeded": ":white_check_mark:",
    "approved": ":white_check_mark:",
    "failed": ":x:",
    "timeout": ":alarm_clock:",
    "expired": ":alarm_clock:",
    "canceled": ":no_entry_sign:",
    "denied": ":no_entry:",
    "abandoned": ":warning:",
    "awaiting approval": ":raised_hand:",
}
_BUTTON_STYLES: Final = {"primary": "primary", "danger": "danger"}
_USER_MENTION: Final = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_LINK: Final = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")
_CHANNEL: Final = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
# Plain messages only: edits, joins and deletions are not commands.
_COMMAND_SUBTYPES: Final = frozenset({None, "file_share", "thread_broadcast"})


# -- text ---------------------------------------------------------------------------------
def escape(text: str) -> str:
    """Slack's three control characters, as Slack asks for them in every text field."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str, bot_user_id: str | None = None) -> str:
    """What the person typed: the bot's mention removed, links and channels as plain text."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", "", text)
    text = _USER_MENTION.sub(r"@\1", text)
    text = _CHANNEL.sub(lambda m: f"#{m.group(2) or m.group(1)}", text)
    text = _LINK.sub(lambda m: m.group(1).removeprefix("mailto:"), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- inbound ------------------------------------------------------------------------------
def message_event(
    event: Mapping[str, Any], team_id: str, bot_user_id: str | None, *, mention: bool
) -> ChatEvent | None:
    """A ``message`` or ``app_mention`` event; None for edits, joins and other subtypes.

    In a channel, a message that mentions the bot also arrives as ``app_mention``: only the
    mention is kept, so the command runs once.
    """
    if event.get("subtype") not in _COMMAND_SUBTYPES:
        return None
    raw = str(event.get("text") or "")
    direct = event.get("channel_type") == "im"
    if not mention and not direct and bot_user_id and f"<@{bot_user_id}" in raw:
        return None
    user = event.get("user") or event.get("bot_id") or ""
    place = ChatPlace(
        "slack",
        str(event.get("channel") or ""),
        thread=event.get("thread_ts"),
        message_id=event.get("ts"),
        is_direct=direct,
    )
    return ChatEvent(
        identity=ChatIdentity("slack", team_id, str(user)),
        place=place,
        text=unescape(raw, bot_user_id),
        display_name=str(event.get("user") or ""),
        mentioned=mention,
        from_bot=bool(event.get("bot_id")) or event.get("subtype") == "bot_message",
        kind="message",
    )


def command_event(command: Mapping[str, Any]) -> ChatEvent:
    """A slash command: its text is routed exactly like a message addressed to the bot."""
    direct = command.get("channel_name") == "directmessage"
    return ChatEvent(
        identity=ChatIdentity("slack", str(command.get("team_id") or ""), str(command["user_id"])),
        place=ChatPlace("slack", str(command.get("channel_id") or ""), is_direct=direct),
        text=unescape(str(command.get("text") or "")),
        display_name=str(command.get("user_name") or ""),
        mentioned=True,
        kind="command",
        reply_token=command.get("response_url"),
    )


def _team(body: Mapping[str, Any]) -> str:
    team = body.get("team") or {}
    user = body.get("user") or {}
    return str(team.get("id") or user.get("team_id") or "")


def action_event(body: Mapping[str, Any], action: Mapping[str, Any]) -> ChatEvent | None:
    """A button click: the button's value is the command; None for buttons not Squall's."""
    command = action.get("value") or (action.get("selected_option") or {}).get("value")
    if not isinstance(command, str) or not command:
        return None
    container = body.get("container") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id") or ""
    message = body.get("message") or {}
    user = body.get("user") or {}
    place = ChatPlace(
        "slack",
        str(channel),
        thread=message.get("thread_ts") or message.get("ts") or container.get("message_ts"),
        message_id=None,
        is_direct=str(channel).startswith("D"),
    )
    return ChatEvent(
        identity=ChatIdentity("slack", _team(body), str(user.get("id") or "")),
        place=place,
        text=command,
        display_name=str(user.get("username") or user.get("name") or ""),
        mentioned=True,
        kind="button",
        reply_token=body.get("response_url"),
    )


def modal_event(body: Mapping[str, Any]) -> ChatEvent | None:
    """A submitted response modal → ``respond <id> {json}`` from the person who submitted."""
    view = body.get("view") or {}
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return None
    approval_id, schema = meta.get("approval"), meta.get("schema") or {}
    if not isinstance(approval_id, str):
        return None
    values = (view.get("state") or {}).get("values") or {}
    response = _form_values(schema, values)
    user = body.get("user") or {}
    place = ChatPlace(
        "slack", str(meta.get("channel") or ""), thread=meta.get("thread"), is_direct=False
    )
    return ChatEvent(
        identity=ChatIdentity("slack", _team(body), str(user.get("id") or "")),
        place=place,
        text=f"respond {approval_id} {json.dumps(response, separators=(',', ':'))}",
        display_name=str(user.get("username") or ""),
        mentioned=True,
        kind="button",
    )


def _form_values(schema: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = {}
    for name, spec in (schema.get("properties") or {}).items():
        element = (values.get(name) or {}).get("value") or {}
        raw = element.get("value")
        if raw is None and element.get("selected_option"):
            raw = element["selected_option"].get("value")
        if raw in (None, ""):
            continue
        response[name] = _typed(spec if isinstance(spec, Mapping) else {}, str(raw))
    return response


def _typed(spec: Mapping[str, Any], raw: str) -> Any:
    kind = spec.get("type")
    try:
        if kind == "boolean":
            return raw == "true"
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
        if kind in ("array", "object"):
            return json.loads(raw)
    except ValueError:
        return raw  # the schema check then says what is wrong with it
    if "enum" in spec:
        choices = list(spec["enum"])
        if raw.startswith("#") and raw[1:].isdigit() and int(raw[1:]) < len(choices):
            return choices[int(raw[1:])]
        return next((choice for choice in choices if json.dumps(choice) == raw), raw)
    return raw


# -- outbound -----------------------------------------------------------------------------
def _header(message: OutgoingMessage) -> dict[str, Any] | None:
    if not message.title and not message.status:
        return None
    emoji = _STATUS_EMOJI.get(message.status or "", ":hourglass_flowing_sand:")
    status = f" · {message.status}" if message.status else ""
    text = _cut(f"{emoji} {message.title or ''}{status}".strip(), HEADER_LIMIT)
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SECTION_LIMIT)}}


def _code(code: str) -> str:
    body = escape(code).replace("```", "`\u200b``")
    return f"```{_cut(body, SECTION_LIMIT - 8)}```"


def _button(button: Button, index: int) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "action_id": f"{ACTION_PREFIX}-{index}",
        "text": {"type": "plain_text", "text": _cut(button.label, 75)},
        "value": button.command,
    }
    if button.style in _BUTTON_STYLES:
        element["style"] = _BUTTON_STYLES[button.style]
    return element


def form_choices(approval: Approval) -> bool:
    """Whether the approval needs a form: pending, and its schema is more than approve/deny."""
    return approval.status is ApprovalStatus.PENDING and approval.schema != APPROVE_OR_DENY


def _form_button(approval: Approval) -> dict[str, Any]:
    value = json.dumps({"approval": approval.id}, separators=(",", ":"))
    return {
        "type": "button",
        "action_id": FORM_ACTION,
        "text": {"type": "plain_text", "text": "Respond…"},
        "style": "primary",
        "value": value,
    }


def _blocks(message: OutgoingMessage) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    header = _header(message)
    if header is not None:
        blocks.append(header)
    if message.pretext and not message.extra.get("slack"):
        blocks.append(_section(escape(message.pretext)))
    if message.text and not message.extra.get("slack"):
        blocks.append(_section(escape(message.text)))
    fields = [
        {"type": "mrkdwn", "text": _cut(f"*{escape(f.title)}*\n{escape(f.value)}", 2000)}
        for f in message.fields[:MAX_FIELDS]
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    if message.code:
        blocks.append(_section(_code(message.code)))
    # A button is its command: one cut short would mean something else, so it is left off
    # (the card's text says how to type the answer).
    fitting = [b for b in message.buttons if len(b.command) <= BUTTON_VALUE_LIMIT]
    elements = [_button(b, n) for n, b in enumerate(fitting[:MAX_BUTTONS])]
    if message.approval is not None and form_choices(message.approval):
        elements.append(_form_button(message.approval))
    if elements:
        blocks.append({"type": "actions", "elements": elements})
    if message.footer:
        context = [{"type": "mrkdwn", "text": escape(message.footer)}]
        blocks.append({"type": "context", "elements": context})
    return blocks


def _fallback(message: OutgoingMessage) -> str:
    """The notification text (and what clients without blocks show)."""
    head = " · ".join(part for part in (message.title, message.status) if part)
    body = message.pretext or message.text or message.code or ""
    text = f"{head}: {body}" if head and body else head or body
    return escape(_cut(text, SECTION_LIMIT))


def _st2_attachment(message: OutgoingMessage) -> list[dict[str, Any]] | None:
    """An alias ``result.extra.slack`` (st2's attachment fields), with the result as its text."""
    extra = message.extra.get("slack")
    if not isinstance(extra, Mapping):
        return None
    attachment: dict[str, Any] = {"mrkdwn_in": ["text", "pretext"], "fallback": message.text}
    if message.text:
        attachment["text"] = escape(message.text)
    if message.pretext:
        attachment["pretext"] = escape(message.pretext)
    attachment.update(extra)  # pack-authored: it may override text, color, fields, images
    return [attachment]


def to_slack(message: OutgoingMessage) -> dict[str, Any]:
    """``chat.postMessage`` / ``chat.update`` arguments (without channel and ts)."""
    payload: dict[str, Any] = {"text": _fallback(message), "blocks": _blocks(message)}
    attachments = _st2_attachment(message)
    if attachments is not None:
        payload["attachments"] = attachments
    return payload


# -- response modal -----------------------------------------------------------------------
def _option_value(choice: Any, index: int) -> str:
    """The choice as JSON, or ``#<index>`` into the enum when that is over Slack's 150."""
    value = json.dumps(choice)
    return value if len(value) <= OPTION_VALUE_LIMIT else f"#{index}"


def _input(name: str, spec: Mapping[str, Any], required: bool) -> dict[str, Any]:
    label = _cut(str(spec.get("title") or spec.get("description") or name), 2000)
    kind = spec.get("type")
    choices = spec.get("enum") or ([True, False] if kind == "boolean" else None)
    element: dict[str, Any]
    if choices:
        options = [
            {
                "text": {
                    "type": "plain_text",
                    "text": _cut(str(c).lower() if isinstance(c, bool) else str(c), 75),
                },
                "value": _option_value(c, i) if kind != "boolean" else ("true" if c else "false"),
            }
            for i, c in enumerate(choices[:100])
        ]
        element = {"type": "static_select", "action_id": "value", "options": options}
    elif kind in ("integer", "number"):
        element = {
            "type": "number_input",
            "action_id": "value",
            "is_decimal_allowed": kind == "number",
        }
    else:
        element = {"type": "plain_text_input", "action_id": "value", "multiline": kind == "object"}
    return {
        "type": "input",
        "block_id": name,
        "label": {"type": "plain_text", "text": label},
        "element": element,
        "optional": not required,
    }


def response_modal(
    approval_id: str, schema: Mapping[str, Any], title: str, place: ChatPlace
) -> dict[str, Any]:
    """A modal with one input per schema property; submitting it answers the approval."""
    required = set(schema.get("required") or ())
    properties = schema.get("properties") or {}
    blocks = [_input(n, s, n in required) for n, s in properties.items() if isinstance(s, Mapping)]
    if len(blocks) > MODAL_INPUTS:  # Slack refuses a modal over 100 blocks
        more = len(blocks) - MODAL_INPUTS + 1
        blocks = blocks[: MODAL_INPUTS - 1]
        note = f"{more} more fields do not fit a form: answer with `respond {approval_id} {{JSON}}`"
        blocks.append(_section(escape(note)))
    meta: dict[str, Any] = {
        "approval": approval_id,
        "channel": place.channel,
        "thread": place.thread,
    }
    metadata = json.dumps({**meta, "schema": schema}, separators=(",", ":"))
    if len(metadata) > 3000:  # Slack's limit: values then arrive as text, the schema check decides
        metadata = json.dumps(meta, separators=(",", ":"))
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "title": {"type": "plain_text", "text": "Respond"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": metadata,
        "blocks": [_section(escape(_cut(title, SECTION_LIMIT))), *blocks],
    }

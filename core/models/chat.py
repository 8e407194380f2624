"""Platform-neutral chat models: what adapters receive and what they are asked to post.

Adapters (Slack, Discord, errbot, console) translate between these and their platform; the
engine and the bot never see a platform payload. Every button carries the text command it
stands for, so a click and a typed command go through one permission check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from core.models.approval import Approval


@dataclass(frozen=True)
class ChatIdentity:
    """Who spoke: adapter + workspace/guild + user id. Never a display name."""

    adapter: str
    workspace: str
    user_id: str

    @property
    def key(self) -> str:
        """Stable text form used in settings (``users.<name>.identities``) and the audit log."""
        return f"{self.adapter}:{self.workspace}:{self.user_id}"


@dataclass(frozen=True)
class ChatPlace:
    """Where a message lives: channel (or DM), optional thread, optional message id."""

    adapter: str
    channel: str
    thread: str | None = None
    message_id: str | None = None
    is_direct: bool = False

    def to_context(self) -> dict[str, Any]:
        """The ``context.chat`` of an execution started from here."""
        return {
            "adapter": self.adapter,
            "channel": self.channel,
            "thread": self.thread,
            "message": self.message_id,
            "direct": self.is_direct,
        }


@dataclass(frozen=True)
class AliasCall:
    """An alias invoked with typed values (a platform command generated from its format),
    instead of text to match. The values are still chat values: cast, checked, never rendered."""

    alias_ref: str
    representation: str
    values: Mapping[str, str]


@dataclass(frozen=True)
class ChatEvent:
    """One inbound message, slash command or button click, already platform-neutral."""

    identity: ChatIdentity
    place: ChatPlace
    text: str
    display_name: str = ""  # for rendering only, never for decisions
    mentioned: bool = False  # the bot was addressed by mention (no prefix needed)
    from_self: bool = False  # the bot's own message echoed back
    from_bot: bool = False  # another bot
    kind: str = "message"  # message | command (slash) | button
    reply_token: str | None = None  # platform handle for an ephemeral/deferred reply
    alias_call: AliasCall | None = None  # set for generated alias commands (Discord)


@dataclass(frozen=True)
class Button:
    label: str
    command: str  # the equivalent typed command, e.g. "cancel 6650…"
    style: str = "default"  # default | primary | danger


@dataclass(frozen=True)
class Field:
    title: str
    value: str
    short: bool = True


@dataclass(frozen=True)
class Attachment:
    """A whole text too long for a message, attached as a file where the adapter can."""

    filename: str
    content: str


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to post (or the new content of one to edit)."""

    text: str = ""
    pretext: str | None = None  # a line shown before the card (st2's ``{~}`` split)
    title: str | None = None
    status: str | None = None  # e.g. an execution status, for adapters that colour cards
    fields: tuple[Field, ...] = ()
    code: str | None = None  # one preformatted block (output)
    buttons: tuple[Button, ...] = ()
    footer: str | None = None  # context line: execution id, elapsed time
    attachment: Attachment | None = None
    ephemeral: bool = False  # only ``audience`` sees it, where the adapter supports that
    audience: str | None = None  # the platform user id an ephemeral message is for
    extra: dict[str, Any] = field(default_factory=dict)  # per-platform pass-through (alias extra)
    # An approval card: adapters with buttons/forms render its response schema themselves.
    approval: Approval | None = None
    # The same post made again (a retry, an outbox item redelivered after a takeover) carries
    # the same key; a platform that dedupes posts (Discord's enforce_nonce) shows it once.
    dedupe_key: str | None = None


@dataclass(frozen=True)
class SentMessage:
    """Handle of a posted message, enough to edit it later."""

    place: ChatPlace
    message_id: str


@dataclass(frozen=True)
class Capabilities:
    buttons: bool = False
    edits: bool = False
    threads: bool = False
    files: bool = False
    ephemeral: bool = False
    max_text: int = 4000
    # How many fields a card shows and how long each may be (Slack: 10 of 2000; Discord
    # embeds: 25 of 1024); cards that need more say so and attach the whole (bot.chat.cards).
    max_fields: int = 25
    max_field_text: int = 1024
    max_card_text: int = 0  # all fields together (0: no limit beyond the above)


OptionKind = Literal["string", "integer", "number", "boolean"]


@dataclass(frozen=True)
class CommandOption:
    name: str
    description: str
    kind: OptionKind
    required: bool
    choices: tuple[str | int | float, ...] = ()


@dataclass(frozen=True)
class CommandForm:
    """One alias format behind a command: its parameters, and which of them it requires."""

    representation: str
    parameters: frozenset[str]
    required: frozenset[str]


@dataclass(frozen=True)
class CommandSpec:
    """A platform command generated from an alias's formats that map cleanly onto typed
    options (``ping {{host}}`` and ``ping {{host}} count {{count}}`` → ``host``, ``count``)."""

    name: str
    description: str
    alias_ref: str
    options: tuple[CommandOption, ...]
    forms: tuple[CommandForm, ...]

    def representation_for(self, given: frozenset[str]) -> str | None:
        """The format a call with these options stands for: one that takes all of them and
        has all it requires, the one with the most parameters first."""
        fitting = [f for f in self.forms if given <= f.parameters and f.required <= given]
        best = max(fitting, key=lambda f: len(f.parameters), default=None)
        return None if best is None else best.representation


# What the bot suggests while someone types a command (Discord autocomplete): the alias
# formats and built-ins this identity may use here, filtered by the text typed so far.
Suggester = Callable[["ChatIdentity", "ChatPlace", str], Awaitable[list[str]]]

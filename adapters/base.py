"""The chat adapter contract: what the bot needs from Slack, Discord, errbot or the console.

An adapter translates between one platform and the neutral models of ``core.models.chat``; it
holds no engine logic and imports nothing from ``core`` but those models. The bot connects it,
reads ``events()`` until the platform goes away, and posts through ``send``/``edit``.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from aiohttp import web

from core.models.chat import (
    AliasCall,
    Attachment,
    Button,
    Capabilities,
    ChatEvent,
    ChatIdentity,
    ChatPlace,
    CommandOption,
    CommandSpec,
    Field,
    OutgoingMessage,
    SentMessage,
    Suggester,
)

__all__ = [
    "AdapterState",
    "AliasCall",
    "Attachment",
    "Button",
    "Capabilities",
    "ChatAdapter",
    "ChatEvent",
    "ChatIdentity",
    "ChatPlace",
    "CommandOption",
    "CommandSpec",
    "ConnectionLost",
    "CredentialError",
    "Field",
    "HttpRoute",
    "OutgoingMessage",
    "SentMessage",
    "Suggester",
]


HttpRoute = tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]


class AdapterState(enum.StrEnum):
    """What ``/healthz`` reports per adapter."""

    STARTING = "starting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    FAILED = "failed"  # a credential was refused: retrying cannot help
    CLOSED = "closed"


class CredentialError(Exception):
    """The platform refused our credentials; the bot stops this adapter instead of retrying."""


class ConnectionLost(Exception):
    """A transient failure (network, platform outage); the bot reconnects with backoff."""


class ChatAdapter(abc.ABC):
    """One chat platform connection. ``name`` is the key used in routes and identities."""

    name: str
    capabilities: Capabilities
    state: AdapterState = AdapterState.STARTING

    @abc.abstractmethod
    async def connect(self) -> None:
        """Open the connection; raise CredentialError or ConnectionLost."""

    @abc.abstractmethod
    def events(self) -> AsyncIterator[ChatEvent]:
        """Inbound events until the connection ends (raise ConnectionLost to be reconnected)."""

    @abc.abstractmethod
    async def send(self, place: ChatPlace, message: OutgoingMessage) -> SentMessage:
        """Post ``message`` in ``place`` (its thread when it has one)."""

    @abc.abstractmethod
    async def edit(self, sent: SentMessage, message: OutgoingMessage) -> SentMessage:
        """Replace a posted message; only called when ``capabilities.edits``."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop reading and release the connection; ``events()`` then ends."""

    async def check(self) -> str | None:
        """Verify credentials without serving (``squall doctor``): None, or what is wrong."""
        return None

    def offer_commands(self, specs: Sequence[CommandSpec], suggest: Suggester) -> None:
        """Before ``connect``: alias commands to register and how to suggest completions.

        Only platforms with native commands (Discord) use them; the default ignores both.
        """
        return None

    def http_routes(self) -> Sequence[HttpRoute]:
        """(method, path, aiohttp handler) to mount on Squall's listener (Slack's HTTP mode)."""
        return ()

"""Inbound chat: one event → a short middleware chain → a built-in command or an alias.

The chain, in order: ignore the bot's own (and other bots') messages → keep only messages
addressed to the bot (prefix in a channel, a mention, or a direct message) and normalize their
text → identify the Squall user behind the chat identity → rate-limit per user. Each step returns
the turn to go on with, or None to stop. Then ``route`` (bot/chat/router.py) runs a built-in command
or an alias; permission checks happen there, once the action and its parameters are known, and
guard typed commands, slash commands and button clicks alike (a click arrives as the text
command its button stands for).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Final

from adapters.base import ChatAdapter, ChatEvent, ChatPlace
from bot.chat.outbound import Replies
from bot.chat.ratelimit import RateLimiter
from core.authz.authorizer import Authorizer, SquallUser
from core.observe import logcontext, metrics

__all__ = [
    "Inbound",
    "Middleware",
    "Turn",
    "addressed",
    "command_text",
    "identify",
    "ignore_own",
    "normalize",
    "rate_limit",
]

logger = logging.getLogger(__name__)

# Slack and phones turn spaces and quotes into look-alikes that break alias formats.
_LOOKALIKES: Final = str.maketrans(
    {
        "\u00a0": " ",  # no-break space
        "\u2007": " ",  # figure space
        "\u202f": " ",  # narrow no-break space
        "\u2009": " ",  # thin space
        "\u200b": None,  # zero-width space
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
    }
)


@dataclass(frozen=True)
class Turn:
    """One inbound event on its way through the chain."""

    adapter: ChatAdapter
    event: ChatEvent
    text: str
    user: SquallUser | None = None

    @property
    def place(self) -> ChatPlace:
        return self.event.place

    @property
    def squall_user(self) -> SquallUser:
        if self.user is None:
            raise RuntimeError("turn used before identify()")
        return self.user


Middleware = Callable[[Turn], Awaitable[Turn | None]]
Route = Callable[[Turn], Awaitable[None]]


def normalize(text: str) -> str:
    return text.translate(_LOOKALIKES).strip()


def command_text(event: ChatEvent, prefix: str) -> str | None:
    """The command in ``event``: after the prefix in a channel; as-is when the bot was
    mentioned or messaged directly; None when the message is not for the bot."""
    text = normalize(event.text)
    if prefix and text.startswith(prefix):
        return text[len(prefix) :].strip()
    if event.mentioned or event.place.is_direct:
        return text
    return None


def ignore_own(ignore_bots: bool) -> Middleware:
    async def step(turn: Turn) -> Turn | None:
        event = turn.event
        if event.from_self or (ignore_bots and event.from_bot):
            return None
        return turn

    return step


def addressed(prefix: str) -> Middleware:
    async def step(turn: Turn) -> Turn | None:
        text = command_text(turn.event, prefix)
        return replace(turn, text=text) if text else None

    return step


def identify(authz: Authorizer) -> Middleware:
    async def step(turn: Turn) -> Turn | None:
        return replace(turn, user=authz.user_for(turn.event.identity))

    return step


def rate_limit(limiter: RateLimiter, replies: Replies) -> Middleware:
    async def step(turn: Turn) -> Turn | None:
        verdict = limiter.check(turn.squall_user.name)
        if verdict.allowed:
            return turn
        logger.warning("chat rate limit: %s dropped a command", turn.squall_user.name)
        if verdict.first_refusal:
            wait = max(1, round(verdict.retry_after))
            await replies.say(
                turn.event, f"Slow down: too many commands. Try again in {wait}s.", private=True
            )
        return None

    return step


class Inbound:
    """The ChatBot handler: runs ``middleware`` in order, then ``route``."""

    def __init__(self, middleware: Sequence[Middleware], route: Route) -> None:
        self.middleware = tuple(middleware)
        self.route = route

    async def __call__(self, adapter: ChatAdapter, event: ChatEvent) -> None:
        metrics.CHAT_MESSAGES_RECEIVED.labels(adapter.name).inc()
        # Lines logged while handling it name the adapter; the execution it starts, its trace.
        with logcontext.bound(adapter=adapter.name):
            turn = Turn(adapter, event, event.text)
            for step in self.middleware:
                going_on = await step(turn)
                if going_on is None:
                    return
                turn = going_on
            await self.route(turn)

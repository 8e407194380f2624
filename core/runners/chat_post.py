"""``chat-post``: the in-process runner behind the bundled ``chatops`` pack.

Core cannot reach chat adapters (they live in the bot), so the bot connects a ``ChatPoster`` at
startup, as the engine does for ``inject-trigger``. In a process without chat (``squall run``)
the action fails and says why instead of dropping the message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from core.models import ExecutionStatus, RunnerType
from core.models.chat import OutgoingMessage, SentMessage
from core.runners.base import RunContext, RunnerResult
from core.runners.types import CHAT_POST


@dataclass(frozen=True)
class ChatTarget:
    """Where to post: a named route from the settings, or an adapter's channel."""

    route: str | None = None
    channel: str | None = None
    adapter: str | None = None


class ChatPoster(Protocol):
    async def post_message(self, target: ChatTarget, message: OutgoingMessage) -> SentMessage:
        """Post, retrying; raise LookupError for an unknown route/adapter, else a delivery error."""

    async def post_result(self, execution_id: str, target: ChatTarget) -> SentMessage:
        """Post the result card of a completed execution."""


class ChatPostInputError(ValueError):
    """Neither a route nor a channel was given, or a parameter has the wrong shape."""


def chat_target(parameters: Mapping[str, Any]) -> ChatTarget:
    route, channel = parameters.get("route"), parameters.get("channel")
    if not route and not channel:
        raise ChatPostInputError("give 'route' (a configured route) or 'channel'")
    adapter = parameters.get("adapter")
    return ChatTarget(route=route or None, channel=channel or None, adapter=adapter or None)


def outgoing(parameters: Mapping[str, Any]) -> OutgoingMessage:
    extra = parameters.get("extra") or {}
    if not isinstance(extra, dict):
        raise ChatPostInputError(f"parameter 'extra' must be an object, not {extra!r}")
    return OutgoingMessage(
        text=str(parameters.get("message") or ""),
        ephemeral=bool(parameters.get("whisper")),
        extra=extra,
    )


class ChatPostRunner:
    runner_type: RunnerType = CHAT_POST

    def __init__(self) -> None:
        self._poster: ChatPoster | None = None

    def connect(self, poster: ChatPoster) -> None:
        """Given by ``squall serve`` once its adapters exist."""
        self._poster = poster

    async def run(self, ctx: RunContext) -> RunnerResult:
        if self._poster is None:
            return RunnerResult.failed(
                "chat is not available in this process (only in `squall serve`)"
            )
        params = ctx.action_parameters
        try:
            target = chat_target(params)
            if ctx.runner_parameters.get("operation") == "result":
                sent = await self._poster.post_result(str(params.get("execution_id")), target)
            else:
                sent = await self._poster.post_message(target, outgoing(params))
        except Exception as exc:  # unknown route, delivery failed: the execution says why
            return RunnerResult.failed(f"cannot post to chat: {exc}")
        result = {
            "adapter": sent.place.adapter,
            "channel": sent.place.channel,
            "message_id": sent.message_id,
        }
        return RunnerResult(ExecutionStatus.SUCCEEDED, result)

    async def close(self) -> None:
        """Nothing to release: the poster belongs to the bot."""

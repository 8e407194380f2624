"""The ``chat:`` settings (console, Slack, Discord, rate limit, delivery) and ``routes:``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Literal

from bot.settings.parser import (
    Check,
    Context,
    between,
)


@dataclass(frozen=True)
class ConsoleChatSettings:
    """The terminal chat adapter of ``squall serve``."""

    # None: on exactly when no other chat adapter is configured.
    enabled: bool | None = None
    user_id: str = "console"
    channel: str = "console"


@dataclass(frozen=True)
class RateLimitSettings:
    """Per-user chat command budget: ``burst`` at once, refilled at ``per_minute``."""

    burst: Annotated[int, between(1)] = 10
    per_minute: Annotated[float, between(0.1)] = 30.0


def _slash_command(value: str, ctx: Context) -> str:
    if not value.startswith("/") or len(value) < 2 or " " in value:
        raise ValueError(f"expected a slash command such as /squall, got {value!r}")
    return value


@dataclass(frozen=True)
class SlackSettings:
    """The Slack adapter (slack-bolt). Tokens come from the environment: ``${SLACK_BOT_TOKEN}``."""

    enabled: bool = False
    # socket: Socket Mode, no public URL (bot + app token). http: Events API on Squall's
    # listener at ``events_path`` (bot token + signing secret; needs http.enabled).
    mode: Literal["socket", "http"] = "socket"
    bot_token: str = ""
    app_token: str = ""
    signing_secret: str = ""
    slash_command: Annotated[str, Check(_slash_command)] = "/squall"
    events_path: str = "/slack/events"
    # Slack's Web API; tests point it at a local fake.
    api_url: str = "https://slack.com/api/"
    # Seconds between Socket Mode liveness checks (and websocket pings).
    ping_interval: Annotated[float, between(0.05)] = 10.0

    def __post_init__(self) -> None:
        if not self.enabled:
            return
        if not self.bot_token.startswith("xoxb-"):
            raise ValueError("bot_token: expected a bot token (xoxb-…), e.g. ${SLACK_BOT_TOKEN}")
        if self.mode == "socket" and not self.app_token.startswith("xapp-"):
            raise ValueError(
                "app_token: Socket Mode needs an app-level token (xapp-…), e.g. ${SLACK_APP_TOKEN}"
            )
        if self.mode == "http" and not self.signing_secret:
            raise ValueError("signing_secret: HTTP mode needs it, e.g. ${SLACK_SIGNING_SECRET}")
        if not self.events_path.startswith("/"):
            raise ValueError("events_path: expected a path starting with /")


def _command_name(value: str, ctx: Context) -> str:
    if not re.fullmatch(r"[a-z0-9_-]{1,32}", value):
        raise ValueError(f"expected a Discord command name (a-z, 0-9, _ or -; 1-32), got {value!r}")
    return value


CommandName = Annotated[str, Check(_command_name)]


@dataclass(frozen=True)
class DiscordSettings:
    """The Discord adapter (discord.py). The token comes from the environment."""

    enabled: bool = False
    token: str = ""
    # Guilds to register the commands in (instant); none: global commands (up to an hour).
    guild_ids: tuple[int, ...] = ()
    # Read channel messages for "!help"-style commands: needs the privileged Message Content
    # intent enabled for the bot. Slash commands and buttons need no privileged intent.
    prefix_commands: bool = False
    command: CommandName = "squall"
    alias_group: CommandName = "run"
    # Discord's REST base and gateway ("": Discord's own); tests point them at a local fake.
    api_url: str = ""
    gateway_url: str = ""

    def __post_init__(self) -> None:
        if self.enabled and not self.token:
            raise ValueError("token: the bot token is required, e.g. ${DISCORD_BOT_TOKEN}")
        if self.command == self.alias_group:
            raise ValueError("command and alias_group must differ")


@dataclass(frozen=True)
class ChatSettings:
    """Chat adapters and how the bot talks through them."""

    prefix: str = "!"
    # Messages from other bots (integrations, webhooks posting to chat) are not commands.
    ignore_bots: bool = True
    # Tries per outbound post (run cards, notifications) before it is logged and counted failed.
    delivery_attempts: Annotated[int, between(1, 20)] = 4
    rate_limit: RateLimitSettings = field(default_factory=RateLimitSettings)
    console: ConsoleChatSettings = field(default_factory=ConsoleChatSettings)
    slack: SlackSettings = field(default_factory=SlackSettings)
    discord: DiscordSettings = field(default_factory=DiscordSettings)


@dataclass(frozen=True)
class RouteSettings:
    """A named chat destination for ``notify.routes`` and the ``chatops`` pack."""

    adapter: str
    channel: str

"""Wires chat into a running engine: delivery, run cards, routes, the chatops runner, the bot.

``squall serve`` and the functional tests (with a TestChat adapter) build chat the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from adapters.base import ChatAdapter, ChatIdentity
from adapters.console import ConsoleAdapter
from adapters.console.adapter import WORKSPACE
from bot.app import Engine
from bot.chat.approval_cards import ApprovalCards
from bot.chat.inbound import Inbound, addressed, identify, ignore_own, rate_limit
from bot.chat.launch import Launcher
from bot.chat.loop import ChatBot
from bot.chat.outbound import Delivery, Replies, RunCards
from bot.chat.progress import ProgressCards
from bot.chat.ratelimit import RateLimiter
from bot.chat.relay import ChatHandlers, OutboxDeliverer, PlatformLeases
from bot.chat.router import ChatCommands
from bot.chat.routes import ChatOutbox, RouteSink, route_adapter_errors, route_errors
from bot.settings import Settings
from core.aliases.commands import alias_commands
from core.authz.authorizer import SquallUser
from core.models import utcnow
from core.models.chat import CommandSpec
from core.params import merge_parameter_schemas
from core.runners.registry import connect_chat_poster
from core.runners.types import RUNNER_TYPES

logger = logging.getLogger(__name__)


class ChatConfigError(ValueError):
    """Routes name an adapter that is not running, or actions name routes that do not exist."""


@dataclass
class ChatRuntime:
    bot: ChatBot
    delivery: Delivery
    cards: RunCards
    outbox: ChatOutbox
    commands: ChatCommands
    approval_cards: ApprovalCards

    def health(self) -> dict[str, object]:
        return {
            "adapters": self.bot.states(),
            "delivery_failures": self.delivery.failures,
            "delivery_failures_recent": list(self.delivery.recent_failures),
        }


def configured_adapters(settings: Settings, *, console: bool = True) -> list[ChatAdapter]:
    """Every chat adapter the settings enable; the console when nothing else is configured.

    ``console=False`` (``serve --no-console``) leaves the terminal out whatever the settings say.
    """
    adapters: list[ChatAdapter] = []
    if settings.chat.slack.enabled:
        adapters.append(slack_adapter(settings))
    if settings.chat.discord.enabled:
        adapters.append(discord_adapter(settings))
    wanted = settings.chat.console
    enabled = wanted.enabled if wanted.enabled is not None else not adapters
    if console and enabled:
        adapters.append(ConsoleAdapter(user_id=wanted.user_id, channel=wanted.channel))
    return adapters


def slack_adapter(settings: Settings) -> ChatAdapter:
    # Imported here: slack-bolt and discord.py take ~0.4 s to import, which every CLI command
    # would otherwise pay.
    from adapters.slack import SlackAdapter, SlackConfig

    slack = settings.chat.slack
    return SlackAdapter(
        SlackConfig(
            bot_token=slack.bot_token,
            mode=slack.mode,
            app_token=slack.app_token,
            signing_secret=slack.signing_secret,
            slash_command=slack.slash_command,
            api_url=slack.api_url,
            events_path=slack.events_path,
            ping_interval=slack.ping_interval,
            max_body_bytes=settings.webhooks.max_body_bytes,
        )
    )


def discord_adapter(settings: Settings) -> ChatAdapter:
    from adapters.discord import DiscordAdapter, DiscordConfig

    discord = settings.chat.discord
    return DiscordAdapter(
        DiscordConfig(
            token=discord.token,
            guild_ids=discord.guild_ids,
            prefix_commands=discord.prefix_commands,
            command=discord.command,
            alias_group=discord.alias_group,
            api_url=discord.api_url or None,
            gateway_url=discord.gateway_url or None,
        )
    )


def command_specs(engine: Engine) -> list[CommandSpec]:
    """The aliases that map cleanly onto typed commands (Discord's /run group)."""
    index = engine.content.index
    schemas = {
        ref: merge_parameter_schemas(RUNNER_TYPES[action.runner_type], action)
        for ref, action in index.actions.items()
        if action.runner_type in RUNNER_TYPES
    }
    return alias_commands(engine.aliases.aliases(), index.actions, schemas)


def _readers(engine: Engine, adapters: Sequence[ChatAdapter]) -> dict[str, SquallUser]:
    """The terminal's one reader (the console user), by adapter name."""
    return {
        adapter.name: engine.authz.user_for(ChatIdentity(adapter.name, WORKSPACE, adapter.user_id))
        for adapter in adapters
        if isinstance(adapter, ConsoleAdapter) and adapter.one_reader
    }


def check_chat_config(engine: Engine, adapters: Sequence[ChatAdapter]) -> None:
    """A route to an adapter that is not running is a settings error and stops the start; a
    pack's ``notify`` naming an unknown route is content: reported and ignored (pack content
    never stops the server)."""
    routes = engine.settings.routes
    problems = route_adapter_errors(routes, (a.name for a in adapters))
    for error in route_errors(engine.content.index, routes):
        logger.warning("notify route ignored: %s", error)
    if problems:
        raise ChatConfigError("chat configuration:\n  " + "\n  ".join(problems))


@contextlib.asynccontextmanager
async def open_chat(engine: Engine, adapters: Sequence[ChatAdapter]) -> AsyncIterator[ChatRuntime]:
    """Connect the adapters and serve their events; on exit, stop intake.

    The adapters are left open: the caller closes them (``close_adapters``) after the engine
    has stopped, so results of executions finishing in the shutdown grace still reach chat.
    """
    check_chat_config(engine, adapters)
    settings = engine.settings
    # The adapters this process holds the lease of (all of them when it runs alone).
    live: dict[str, ChatAdapter] = {}
    delivery = Delivery(live, attempts=settings.chat.delivery_attempts)
    progress = ProgressCards(delivery, interval=settings.workflows.progress_interval_seconds)
    engine.executions.add_change_listener(progress.on_child_change)
    cards = RunCards(
        delivery, engine.executions, aliases=engine.content.index.aliases.get, progress=progress
    )
    outbox = ChatOutbox(delivery, settings.routes, cards)
    engine.executions.add_completion_listener(cards.on_completed)
    engine.executions.observers.append(cards)  # the card shows "running" while it runs
    route_sink = RouteSink(outbox, engine.content.index)
    engine.executions.add_completion_listener(route_sink.on_completed)
    connect_chat_poster(engine.executions.runners, outbox)
    approval_cards = ApprovalCards(
        delivery, engine.approvals, engine.gate, settings.routes, readers=_readers(engine, adapters)
    )
    engine.inquiries.on_asked(approval_cards.post_inquiry)
    replies = Replies(delivery)
    launcher = Launcher(engine, cards, approval_cards, replies)
    approval_cards.post_run_cards_with(launcher.post_released)
    # Late-bound: `runtime` exists by the time anyone can type `status`.
    commands = ChatCommands(
        engine, replies, launcher, prefix=settings.chat.prefix, health=lambda: runtime.health()
    )
    limits = settings.chat.rate_limit
    inbound = Inbound(
        [
            ignore_own(settings.chat.ignore_bots),
            addressed(settings.chat.prefix),
            identify(engine.authz),
            rate_limit(RateLimiter(limits.burst, limits.per_minute, time.monotonic), replies),
        ],
        commands.route,
    )
    specs = command_specs(engine)
    for adapter in adapters:
        adapter.offer_commands(specs, commands.suggest)
    bot = ChatBot(adapters, inbound)
    runtime = ChatRuntime(bot, delivery, cards, outbox, commands, approval_cards)
    engine.relay.held = live.keys
    platforms = PlatformLeases(engine.cluster, bot, live, adapters)

    async def refresh_progress(workflow_id: str) -> None:
        await progress.refresh(workflow_id, engine.store.executions)

    handlers = ChatHandlers(
        cards,
        route_sink.on_completed,
        approval_cards.post_inquiry,
        approval_cards.show_outcome,
        refresh_progress,
    )
    deliverer = OutboxDeliverer(
        engine.store,
        handlers,
        engine.cluster.holder,
        claim_seconds=settings.cluster.lease_seconds,
        now=utcnow,
    )
    await platforms.start()
    polling = asyncio.create_task(
        deliverer.run_forever(live.keys, settings.cluster.outbox_poll_seconds), name="chat-outbox"
    )
    try:
        yield runtime
    finally:
        polling.cancel()
        await asyncio.gather(polling, return_exceptions=True)
        await bot.stop_intake()
        await platforms.stop()
        await progress.close()
        await cards.close()

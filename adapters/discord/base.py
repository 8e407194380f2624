"""The Discord adapter's settings, capabilities and shared state."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from adapters.base import AdapterState, Capabilities, ChatAdapter, ChatEvent, CommandSpec, Suggester
from adapters.discord.components import SquallClient
from adapters.discord.interactions import Pending, forget_expired
from core.models.approval import Approval

DISCORD_CAPABILITIES: Final = Capabilities(
    buttons=True, edits=True, threads=False, files=True, ephemeral=True, max_text=4000,
    max_fields=25, max_field_text=1024, max_card_text=5000,  # 6000 per message's embeds
)  # fmt: skip


@dataclass(frozen=True)
class DiscordConfig:
    token: str
    guild_ids: tuple[int, ...] = ()
    prefix_commands: bool = False
    command: str = "squall"
    alias_group: str = "run"
    # Discord's REST base and gateway; tests point them at a local fake.
    api_url: str | None = None
    gateway_url: str | None = None
    connect_timeout: float = 30.0
    guild_ready_timeout: float = 2.0
    name: str = "discord"


class DiscordBase(ChatAdapter):
    """The adapter's state, shared by its parts (connection, commands, inbound, delivery)."""

    def __init__(self, config: DiscordConfig) -> None:
        self.config = config
        self.name = config.name
        self.capabilities = DISCORD_CAPABILITIES
        self.state = AdapterState.STARTING
        self.client: SquallClient | None = None
        self._runner: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._inbox: asyncio.Queue[ChatEvent | None] = asyncio.Queue()
        self._specs: tuple[CommandSpec, ...] = ()
        self._suggest: Suggester | None = None
        self._pending: dict[str, Pending] = {}
        self._owners: dict[int, tuple[Pending, bool]] = {}  # message id → (interaction, original?)
        self._approvals: dict[str, Approval] = {}

    def offer_commands(self, specs: Sequence[CommandSpec], suggest: Suggester) -> None:
        self._specs = tuple(specs)
        self._suggest = suggest

    def _track(self, pending: Pending) -> None:
        self._pending[str(pending.interaction.id)] = pending
        forget_expired(self._pending, self._owners)

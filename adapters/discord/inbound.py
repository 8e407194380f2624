"""Inbound Discord: slash commands, alias commands, button clicks, the response form, autocomplete
and (with message content on) prefix commands and mentions, each put in the inbox as a ChatEvent."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands

from adapters.base import AliasCall, ChatEvent, ChatPlace, CommandSpec
from adapters.discord.base import DiscordBase
from adapters.discord.components import ResponseForm
from adapters.discord.convert import identity, interaction_place, message_text
from adapters.discord.interactions import Pending
from core.models.chat import ChatIdentity


class DiscordInbound(DiscordBase):
    # -- inbound --------------------------------------------------------------------------
    def _place(self, interaction: discord.Interaction[Any]) -> ChatPlace:
        return interaction_place(
            interaction.channel_id or 0, interaction.id, direct=interaction.guild_id is None
        )

    def _identity(self, interaction: discord.Interaction[Any]) -> ChatIdentity:
        return identity(interaction.guild_id, interaction.user.id)

    def _event(
        self, interaction: discord.Interaction[Any], text: str, kind: str, **extra: Any
    ) -> ChatEvent:
        return ChatEvent(
            identity=self._identity(interaction),
            place=self._place(interaction),
            text=text,
            display_name=interaction.user.display_name,
            mentioned=True,
            kind=kind,
            **extra,
        )

    async def on_command(self, interaction: discord.Interaction[Any], text: str) -> None:
        await interaction.response.defer(thinking=True)
        self._track(Pending(interaction))
        self._inbox.put_nowait(self._event(interaction, text.strip() or "help", "command"))

    async def on_alias(
        self, interaction: discord.Interaction[Any], spec: CommandSpec, values: dict[str, Any]
    ) -> None:
        await interaction.response.defer(thinking=True)
        self._track(Pending(interaction))
        given = {k: v for k, v in values.items() if v is not None}
        representation = spec.representation_for(frozenset(given))
        if representation is None:
            await interaction.followup.send(
                "Those options do not fit any form of this command.", ephemeral=True
            )
            return
        call = AliasCall(spec.alias_ref, representation, {k: str(v) for k, v in given.items()})
        self._inbox.put_nowait(
            self._event(
                interaction, f"{self.config.alias_group} {spec.name}", "command", alias_call=call
            )
        )

    async def on_click(self, interaction: discord.Interaction[Any], command: str) -> None:
        await interaction.response.defer()  # a deferred update: the clicked card stays as it is
        # The click's "original" is the card itself: never edit it as a reply.
        self._track(Pending(interaction, original_used=True))
        self._inbox.put_nowait(self._event(interaction, command, "button"))

    async def on_form(self, interaction: discord.Interaction[Any], approval_id: str) -> None:
        approval = self._approvals.get(approval_id)
        if approval is None:  # posted before a restart: the typed answer still works
            await interaction.response.send_message(
                f"Answer with: /{self.config.command} text: respond {approval_id} {{JSON}}",
                ephemeral=True,
            )
            return
        await interaction.response.send_modal(ResponseForm(self, approval))

    async def complete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]:
        if self._suggest is None:
            return []
        suggestions = await self._suggest(
            self._identity(interaction), self._place(interaction), current
        )
        return [app_commands.Choice(name=s[:100], value=s[:100]) for s in suggestions[:25]]

    def on_message(self, message: discord.Message) -> None:
        """Prefix commands and mentions in channels, and direct messages (message content on)."""
        if not self.config.prefix_commands or self.client is None:
            return
        me = self.client.user
        text, mentioned = message_text(message.content, me.id if me else None)
        direct = message.guild is None
        event = ChatEvent(
            identity=identity(message.guild.id if message.guild else None, message.author.id),
            place=ChatPlace(
                self.name, str(message.channel.id), message_id=str(message.id), is_direct=direct
            ),
            text=text,
            display_name=message.author.display_name,
            mentioned=mentioned,
            from_self=me is not None and message.author.id == me.id,
            from_bot=message.author.bot,
        )
        self._inbox.put_nowait(event)

"""The Discord adapter (discord.py: gateway, application commands, persistent buttons)."""

from adapters.discord.adapter import DISCORD_CAPABILITIES, DiscordAdapter, DiscordConfig

__all__ = ["DISCORD_CAPABILITIES", "DiscordAdapter", "DiscordConfig"]

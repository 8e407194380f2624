"""Application command sync: the text command (``/squall text:``) and the typed alias group."""

from __future__ import annotations

import inspect
from typing import Any, Final, cast

import discord
from discord import app_commands

from adapters.base import CommandSpec
from adapters.discord.components import SquallClient
from adapters.discord.inbound import DiscordInbound

_OPTION_TYPES: Final = {"string": str, "integer": int, "number": float, "boolean": bool}


class DiscordCommandSync(DiscordInbound):
    # -- commands -------------------------------------------------------------------------
    async def sync_commands(self, client: SquallClient) -> None:
        tree = client.tree
        tree.clear_commands(guild=None)
        tree.add_command(self._text_command())
        group = self._alias_group()
        if group is not None:
            tree.add_command(group)
        if self.config.guild_ids:
            for guild_id in self.config.guild_ids:
                guild = discord.Object(id=guild_id)
                tree.copy_global_to(guild=guild)
                await tree.sync(guild=guild)
            tree.clear_commands(guild=None)
            await tree.sync()  # no stale global copies next to the guild ones
        else:
            await tree.sync()

    def _text_command(self) -> app_commands.Command[Any, Any, Any]:
        adapter = self

        @app_commands.describe(text="what to run, e.g. help or deploy web to prod")
        async def squall(interaction: discord.Interaction[Any], text: str) -> None:
            await adapter.on_command(interaction, text)

        async def complete(
            interaction: discord.Interaction[Any], current: str
        ) -> list[app_commands.Choice[str]]:
            return await adapter.complete(interaction, current)

        command: app_commands.Command[Any, Any, Any] = app_commands.Command(
            name=self.config.command, description="Run a Squall command or alias", callback=squall
        )
        command.autocomplete("text")(complete)
        return command

    def _alias_group(self) -> app_commands.Group | None:
        if not self._specs:
            return None
        group = app_commands.Group(
            name=self.config.alias_group, description="Run an alias with typed options"
        )
        for spec in self._specs:
            group.add_command(self._alias_command(spec))
        return group

    def _alias_command(self, spec: CommandSpec) -> app_commands.Command[Any, Any, Any]:
        adapter = self

        async def run_alias(interaction: discord.Interaction[Any], **values: Any) -> None:
            await adapter.on_alias(interaction, spec, values)

        parameters = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        for option in spec.options:
            parameters.append(
                inspect.Parameter(
                    option.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=_OPTION_TYPES[option.kind],
                    default=inspect.Parameter.empty if option.required else None,
                )
            )
        run_alias.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        run_alias.__discord_app_commands_param_description__ = {  # type: ignore[attr-defined]
            o.name: o.description for o in spec.options
        }
        choices = {
            o.name: [app_commands.Choice(name=str(c)[:100], value=c) for c in o.choices]
            for o in spec.options
            if o.choices
        }
        if choices:
            run_alias.__discord_app_commands_param_choices__ = choices  # type: ignore[attr-defined]
        # The signature above is what discord.py reads; mypy sees only **values.
        callback = cast(Any, run_alias)
        return app_commands.Command(name=spec.name, description=spec.description, callback=callback)

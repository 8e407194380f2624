"""Squall's Discord components: card buttons, the approval form button and its modal, and the
client they find their handler on."""

from __future__ import annotations

import json
from typing import Any, Protocol

import discord
from discord import app_commands

from adapters.discord.convert import BUTTON_PREFIX, FORM_PREFIX, form_fields, form_response
from core.models.approval import Approval


class InteractionHandler(Protocol):
    """What Squall's components call back (the adapter)."""

    async def on_click(self, interaction: discord.Interaction[Any], command: str) -> None: ...

    async def on_form(self, interaction: discord.Interaction[Any], approval_id: str) -> None: ...


class SquallClient(discord.Client):
    """The discord.py client Squall's components find their handler on."""

    def __init__(self, handler: InteractionHandler, **options: Any) -> None:
        super().__init__(**options)
        self.handler = handler
        self.tree = app_commands.CommandTree(self)


class CardButton(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"^sq:(?P<command>.+)$"):
    """A card button: its custom id is the text command it stands for."""

    def __init__(
        self,
        command: str,
        label: str = "",
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
    ) -> None:
        super().__init__(
            discord.ui.Button(
                label=label or command, style=style, custom_id=BUTTON_PREFIX + command
            )
        )
        self.command = command

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls, interaction: discord.Interaction[Any], item: discord.ui.Button[Any], match: Any, /
    ) -> CardButton:
        return cls(match["command"], item.label or "", item.style)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await handler_of(interaction).on_click(interaction, self.command)


class FormButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"^sqform:(?P<approval>\w+)$"
):
    """Opens the response form of an approval that asks for more than approve/deny."""

    def __init__(self, approval_id: str) -> None:
        super().__init__(
            discord.ui.Button(
                label="Respond…",
                style=discord.ButtonStyle.primary,
                custom_id=FORM_PREFIX + approval_id,
            )
        )
        self.approval_id = approval_id

    @classmethod
    async def from_custom_id(  # type: ignore[override]
        cls, interaction: discord.Interaction[Any], item: discord.ui.Button[Any], match: Any, /
    ) -> FormButton:
        return cls(match["approval"])

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await handler_of(interaction).on_form(interaction, self.approval_id)


class ResponseForm(discord.ui.Modal):
    def __init__(self, handler: InteractionHandler, approval: Approval) -> None:
        super().__init__(title=approval.title[:45] or "Respond", custom_id=f"sqmodal:{approval.id}")
        self.handler = handler
        self.approval = approval
        self.inputs: dict[str, discord.ui.TextInput[Any]] = {}
        for spec in form_fields(approval.schema):
            text_input: discord.ui.TextInput[Any] = discord.ui.TextInput(
                label=spec.label,
                custom_id=spec.name,
                required=spec.required,
                style=discord.TextStyle.paragraph if spec.multiline else discord.TextStyle.short,
            )
            self.inputs[spec.name] = text_input
            self.add_item(text_input)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        values = {name: str(field.value or "") for name, field in self.inputs.items()}
        response = form_response(self.approval.schema, values)
        command = f"respond {self.approval.id} {json.dumps(response, separators=(',', ':'))}"
        await self.handler.on_click(interaction, command)


def handler_of(interaction: discord.Interaction[Any]) -> InteractionHandler:
    client = interaction.client
    if not isinstance(client, SquallClient):
        raise RuntimeError("a Squall component on a client that is not Squall's")
    return client.handler

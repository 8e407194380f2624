"""The Discord adapter: discord.py's gateway client with application commands and buttons.

Commands: ``/squall text:…`` takes any alias text or built-in (with autocomplete from what this
user may run, asked of the bot), and the ``/run`` group has one typed subcommand per alias that
maps cleanly (``CommandSpec``). Both are synced at start, per guild when guild ids are set
(instant), else globally. Every interaction is acknowledged at once (``defer``); the first
public reply edits the deferred response, later ones are follow-ups, and a card is edited in
place (through the interaction's token while it lives, then as the bot's own message).
Buttons are ``DynamicItem``s whose custom id is their text command, so a click on a card posted
before a restart still works and goes through the same permission check as typing it.

The gateway, reconnects (RESUME, exponential backoff) and rate limits are discord.py's. The
message-content intent is asked for only when prefix commands are on (``prefix_commands``).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import json
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

import aiohttp
import discord
import yarl
from discord import app_commands

from adapters.base import (
    AdapterState,
    AliasCall,
    Capabilities,
    ChatAdapter,
    ChatEvent,
    ChatPlace,
    CommandSpec,
    ConnectionLost,
    CredentialError,
    OutgoingMessage,
    SentMessage,
    Suggester,
)
from adapters.discord.convert import (
    BUTTON_PREFIX,
    FORM_PREFIX,
    button_specs,
    embed,
    form_fields,
    form_response,
    identity,
    interaction_of,
    interaction_place,
    message_text,
    plain_content,
)
from adapters.discord.interactions import Pending, forget_expired
from core.models.approval import Approval, ApprovalStatus
from core.models.chat import ChatIdentity

__all__ = ["DISCORD_CAPABILITIES", "DiscordAdapter", "DiscordConfig"]

logger = logging.getLogger(__name__)

DISCORD_CAPABILITIES: Final = Capabilities(
    buttons=True, edits=True, threads=False, files=True, ephemeral=True, max_text=4000,
    max_fields=25, max_field_text=1024, max_card_text=5000,  # 6000 per message's embeds
)  # fmt: skip
_REMEMBERED: Final = 1000  # pending approvals kept for their forms, at most
_OPTION_TYPES: Final = {"string": str, "integer": int, "number": float, "boolean": bool}
_STYLES: Final = {
    "primary": discord.ButtonStyle.primary,
    "danger": discord.ButtonStyle.danger,
    "secondary": discord.ButtonStyle.secondary,
}
_NO_PINGS: Final = discord.AllowedMentions.none()  # output never pings @everyone or anyone


# Squall never joins voice: discord.py's "PyNaCl is not installed, voice will NOT be supported"
# warning at every client start (and in `squall doctor`) tells users about nothing they use.
discord.VoiceClient.warn_nacl = False


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
        await _adapter_of(interaction).on_click(interaction, self.command)


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
        await _adapter_of(interaction).on_form(interaction, self.approval_id)


class ResponseForm(discord.ui.Modal):
    def __init__(self, adapter: DiscordAdapter, approval: Approval) -> None:
        super().__init__(title=approval.title[:45] or "Respond", custom_id=f"sqmodal:{approval.id}")
        self.adapter = adapter
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
        await self.adapter.on_click(interaction, command)


class _Client(discord.Client):
    def __init__(self, adapter: DiscordAdapter, intents: discord.Intents) -> None:
        super().__init__(intents=intents, guild_ready_timeout=adapter.config.guild_ready_timeout)
        self.adapter = adapter
        self.tree = app_commands.CommandTree(self)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(CardButton, FormButton)
        await self.adapter.sync_commands(self)

    async def on_ready(self) -> None:
        self.adapter.on_connected()

    async def on_resumed(self) -> None:
        self.adapter.on_connected()

    async def on_disconnect(self) -> None:
        self.adapter.on_disconnected()

    async def on_message(self, message: discord.Message) -> None:
        self.adapter.on_message(message)


def _adapter_of(interaction: discord.Interaction[Any]) -> DiscordAdapter:
    client = interaction.client
    if not isinstance(client, _Client):
        raise RuntimeError("a Squall component on a client that is not Squall's")
    return client.adapter


class DiscordAdapter(ChatAdapter):
    def __init__(self, config: DiscordConfig) -> None:
        self.config = config
        self.name = config.name
        self.capabilities = DISCORD_CAPABILITIES
        self.state = AdapterState.STARTING
        self.client: _Client | None = None
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

    # -- connection -----------------------------------------------------------------------
    def _intents(self) -> discord.Intents:
        intents = discord.Intents.default()
        intents.message_content = self.config.prefix_commands  # privileged: only when asked
        if not self.config.prefix_commands:
            intents.messages = False
        return intents

    def _point_at(self) -> None:
        # Only the test configuration sets these (a fake Discord on 127.0.0.1).
        if self.config.api_url:
            discord.http.Route.BASE = self.config.api_url.rstrip("/")
        if self.config.gateway_url:
            discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.config.gateway_url)

    async def connect(self) -> None:
        self.state = AdapterState.STARTING
        await self._stop_client()
        self._point_at()
        client = self.client = _Client(self, self._intents())
        self._ready.clear()
        try:
            await client.login(self.config.token)
        except discord.LoginFailure as exc:
            await client.close()
            raise CredentialError(f"Discord refused the bot token: {exc}") from None
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            await client.close()
            raise ConnectionLost(f"Discord unreachable: {exc}") from None
        self._runner = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
        ready = asyncio.create_task(self._ready.wait())
        done, _ = await asyncio.wait(
            {ready, self._runner},
            timeout=self.config.connect_timeout,
            return_when=asyncio.FIRST_COMPLETED,
        )
        ready.cancel()
        if self._runner in done:
            raise self._runner_error()
        if not done:
            raise ConnectionLost("Discord gateway did not become ready in time")

    def _runner_error(self) -> Exception:
        assert self._runner is not None
        error = self._runner.exception() if not self._runner.cancelled() else None
        if isinstance(error, discord.PrivilegedIntentsRequired):
            return CredentialError(
                "Discord refused the message content intent: enable it for the bot "
                "(Developer Portal → Bot → Message Content Intent) or set prefix_commands: false"
            )
        if isinstance(error, discord.LoginFailure):
            return CredentialError(f"Discord refused the bot token: {error}")
        return ConnectionLost(f"Discord gateway closed: {error or 'stopped'}")

    def on_connected(self) -> None:
        self.state = AdapterState.CONNECTED
        self._ready.set()

    def on_disconnected(self) -> None:
        if self.state is not AdapterState.CLOSED:
            self.state = AdapterState.RECONNECTING

    async def events(self) -> AsyncIterator[ChatEvent]:
        while True:
            getting = asyncio.create_task(self._inbox.get())
            watched = {getting} | ({self._runner} if self._runner is not None else set())
            done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            if getting not in done:
                getting.cancel()
                if self.state is AdapterState.CLOSED:
                    return
                raise self._runner_error()
            event = getting.result()
            if event is None:
                return
            yield event

    async def close(self) -> None:
        self.state = AdapterState.CLOSED
        await self._stop_client()
        self._inbox.put_nowait(None)

    async def _stop_client(self) -> None:
        if self.client is not None and not self.client.is_closed():
            await self.client.close()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
            self._runner = None

    async def check(self) -> str | None:
        self._point_at()
        # The probe only logs in over HTTP; with the guilds intent discord.py does not warn
        # that "state related issues" may follow (they cannot: it never connects).
        probe = discord.Client(intents=discord.Intents(guilds=True))
        try:
            await probe.login(self.config.token)
        except discord.LoginFailure as exc:
            return f"Discord refused the bot token: {exc}"
        except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
            return f"Discord unreachable: {exc}"
        finally:
            await probe.close()
        return None

    # -- commands -------------------------------------------------------------------------
    async def sync_commands(self, client: _Client) -> None:
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

    # -- outbound -------------------------------------------------------------------------
    def _render(self, message: OutgoingMessage, *, editing: bool) -> dict[str, Any]:
        approval = message.approval
        if approval is not None and approval.status is ApprovalStatus.PENDING:
            self._approvals[approval.id] = approval  # a pending one may open a form
            for old in list(self._approvals)[: max(0, len(self._approvals) - _REMEMBERED)]:
                del self._approvals[old]
        elif approval is not None:
            self._approvals.pop(approval.id, None)
        view = discord.ui.View(timeout=None)
        for spec in button_specs(message):
            if spec.custom_id.startswith(FORM_PREFIX):
                view.add_item(FormButton(spec.custom_id[len(FORM_PREFIX) :]))
            else:
                view.add_item(
                    CardButton(
                        spec.custom_id[len(BUTTON_PREFIX) :], spec.label, _STYLES[spec.style]
                    )
                )
        card = embed(message)
        kwargs: dict[str, Any] = {
            "content": plain_content(message),
            "embed": discord.Embed.from_dict(card) if card else None,
            "view": view,
            "allowed_mentions": _NO_PINGS,
        }
        if message.attachment is not None:
            file = discord.File(
                io.BytesIO(message.attachment.content.encode()),
                filename=message.attachment.filename,
            )
            kwargs["attachments" if editing else "file"] = [file] if editing else file
        return kwargs

    def _track(self, pending: Pending) -> None:
        self._pending[str(pending.interaction.id)] = pending
        forget_expired(self._pending, self._owners)

    def _fresh(self, place: ChatPlace) -> Pending | None:
        interaction_id = interaction_of(place)
        pending = self._pending.get(interaction_id) if interaction_id else None
        if pending is not None and not pending.fresh:
            self._pending.pop(str(interaction_id), None)
            return None
        return pending

    async def send(self, place: ChatPlace, message: OutgoingMessage) -> SentMessage:
        pending = self._fresh(place)
        if pending is None:
            return await self._send_to_channel(place, message)
        interaction = pending.interaction
        if message.ephemeral:
            await interaction.followup.send(
                ephemeral=True, wait=True, **self._followup_kwargs(message)
            )
            if not pending.original_used:  # nothing public came of it: drop "thinking…"
                pending.original_used = True
                with contextlib.suppress(discord.HTTPException):
                    await interaction.delete_original_response()
            return SentMessage(place, "ephemeral")
        if not pending.original_used:
            pending.original_used = True
            original = await interaction.edit_original_response(**self._edit_kwargs(message))
            self._owners[original.id] = (pending, True)
            return SentMessage(place, str(original.id))
        followup = await interaction.followup.send(wait=True, **self._followup_kwargs(message))
        self._owners[followup.id] = (pending, False)
        return SentMessage(place, str(followup.id))

    def _edit_kwargs(self, message: OutgoingMessage) -> dict[str, Any]:
        return self._render(message, editing=True)

    def _followup_kwargs(self, message: OutgoingMessage) -> dict[str, Any]:
        kwargs = self._render(message, editing=False)
        if kwargs.get("content") is None:
            kwargs.pop("content")
        if kwargs.get("embed") is None:
            kwargs.pop("embed")
        return kwargs

    async def _channel(self, channel_id: str) -> Any:
        assert self.client is not None
        channel = self.client.get_channel(int(channel_id))
        return channel if channel is not None else await self.client.fetch_channel(int(channel_id))

    async def _send_to_channel(self, place: ChatPlace, message: OutgoingMessage) -> SentMessage:
        channel = await self._channel(place.channel)
        kwargs = self._followup_kwargs(message)
        # Discord has no reply threads: "in the thread of message M" becomes a reply to M.
        replied = place.message_id or (place.thread if interaction_of(place) is None else None)
        if replied is not None and replied.isdigit():
            kwargs["reference"] = discord.MessageReference(
                message_id=int(replied), channel_id=int(place.channel), fail_if_not_exists=False
            )
        sent = await channel.send(**kwargs)
        return SentMessage(
            ChatPlace(self.name, place.channel, place.thread, None, place.is_direct), str(sent.id)
        )

    async def edit(self, sent: SentMessage, message: OutgoingMessage) -> SentMessage:
        if sent.message_id == "ephemeral":
            return await self.send(sent.place, message)
        message_id = int(sent.message_id)
        owner = self._owners.get(message_id)
        kwargs = self._edit_kwargs(message)
        if owner is not None and owner[0].fresh:
            pending, original = owner
            if original:
                await pending.interaction.edit_original_response(**kwargs)
            else:
                await pending.interaction.followup.edit_message(message_id, **kwargs)
            return sent
        channel = await self._channel(sent.place.channel)
        await channel.get_partial_message(message_id).edit(**kwargs)
        return sent

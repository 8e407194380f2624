"""Outbound Discord: cards as embeds with buttons, answers through the interaction while its token
lasts (original response, then follow-ups), else in the channel; edits of either."""

from __future__ import annotations

import contextlib
import io
from typing import Any, Final

import discord

from adapters.base import ChatPlace, OutgoingMessage, SentMessage
from adapters.discord.base import DiscordBase
from adapters.discord.components import CardButton, FormButton
from adapters.discord.convert import (
    BUTTON_PREFIX,
    FORM_PREFIX,
    button_specs,
    embed,
    interaction_of,
    plain_content,
)
from adapters.discord.interactions import Pending
from core.models.approval import ApprovalStatus

_REMEMBERED: Final = 1000  # pending approvals kept for their forms, at most
# Discord's answers for an interaction token it no longer takes (15 minutes, or unknown).
_TOKEN_GONE: Final = frozenset({50027, 10015})  # Invalid Webhook Token, Unknown Webhook
_STYLES: Final = {
    "primary": discord.ButtonStyle.primary,
    "danger": discord.ButtonStyle.danger,
    "secondary": discord.ButtonStyle.secondary,
}
_NO_PINGS: Final = discord.AllowedMentions.none()  # output never pings @everyone or anyone


def _late(place: ChatPlace) -> bool:
    """A reply to an interaction Squall no longer answers, outside a DM."""
    return interaction_of(place) is not None and not place.is_direct


class DiscordDelivery(DiscordBase):
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

    def _fresh(self, place: ChatPlace) -> Pending | None:
        interaction_id = interaction_of(place)
        pending = self._pending.get(interaction_id) if interaction_id else None
        if pending is not None and not pending.fresh:
            self._pending.pop(str(interaction_id), None)
            return None
        return pending

    async def send(self, place: ChatPlace, message: OutgoingMessage) -> SentMessage:
        pending = self._fresh(place)
        if pending is None and message.ephemeral and message.audience and _late(place):
            return await self._send_privately(place, message.audience, message)
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
        try:
            if not pending.original_used:
                pending.original_used = True
                original = await interaction.edit_original_response(**self._edit_kwargs(message))
                self._owners[original.id] = (pending, True)
                return SentMessage(place, str(original.id))
            followup = await interaction.followup.send(wait=True, **self._followup_kwargs(message))
        except discord.HTTPException as exc:
            if exc.code not in _TOKEN_GONE:
                raise
            # The token died sooner than Squall's clock said: the bot posts in the channel.
            self._pending.pop(str(interaction.id), None)
            return await self._send_to_channel(place, message)
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
        if message.dedupe_key:  # sent with enforce_nonce: Discord returns the earlier post
            kwargs["nonce"] = message.dedupe_key
        sent = await channel.send(**kwargs)
        return SentMessage(
            ChatPlace(self.name, place.channel, place.thread, None, place.is_direct), str(sent.id)
        )

    async def _send_privately(
        self, place: ChatPlace, user_id: str, message: OutgoingMessage
    ) -> SentMessage:
        """A private reply without a live interaction (Discord has no other ephemeral
        message): it goes to the person's DMs, never into the channel for everyone."""
        assert self.client is not None
        dm = await self.client.create_dm(discord.Object(id=int(user_id)))
        kwargs = self._followup_kwargs(message)
        if message.dedupe_key:
            kwargs["nonce"] = message.dedupe_key
        sent = await dm.send(**kwargs)
        return SentMessage(ChatPlace(self.name, str(dm.id), is_direct=True), str(sent.id))

    async def edit(self, sent: SentMessage, message: OutgoingMessage) -> SentMessage:
        if sent.message_id == "ephemeral":
            return await self.send(sent.place, message)
        message_id = int(sent.message_id)
        owner = self._owners.get(message_id)
        kwargs = self._edit_kwargs(message)
        if owner is not None and owner[0].fresh:
            pending, original = owner
            try:
                if original:
                    await pending.interaction.edit_original_response(**kwargs)
                else:
                    await pending.interaction.followup.edit_message(message_id, **kwargs)
                return sent
            except discord.HTTPException as exc:
                if exc.code not in _TOKEN_GONE:
                    raise
                # The token died sooner than Squall's clock said: the bot token edits it.
                self._owners.pop(message_id, None)
                kwargs = self._edit_kwargs(message)  # a view and files are used once
        channel = await self._channel(sent.place.channel)
        await channel.get_partial_message(message_id).edit(**kwargs)
        return sent

"""Approval cards in chat: posted when an approval is asked, edited once it is decided.

Adapters render the card (``OutgoingMessage.approval``): buttons where they have them, the typed
``approve <id>`` / ``deny <id>`` otherwise. Every button is its text command, so a click goes
through the same approval check as typing. When a gated execution is released, the decision is
shown first and then the run card is registered, before the execution can finish (the gate calls
``on_release`` before releasing). Card handles live in memory; after a restart the outcome is
posted as a new message in the approval's place.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace

from adapters.base import ChatPlace, SentMessage
from bot.chat.cards import approval_card, approval_outcome_card, fit_approval_card
from bot.chat.outbound import Delivery, DeliveryError
from bot.settings.chat import RouteSettings
from core.approvals.gate import ApprovalGate
from core.approvals.service import ApprovalService
from core.authz.authorizer import SquallUser
from core.models import Execution
from core.models.approval import Approval, ApprovalStatus

__all__ = ["ApprovalCards", "RunCardPoster"]

logger = logging.getLogger(__name__)

# Posts the run card of a released execution (bot.chat.launch.Launcher.post_ack).
RunCardPoster = Callable[[Execution], Awaitable[None]]


class ApprovalCards:
    def __init__(
        self,
        delivery: Delivery,
        approvals: ApprovalService,
        gate: ApprovalGate,
        routes: Mapping[str, RouteSettings] | None = None,
        readers: Mapping[str, SquallUser] | None = None,
    ) -> None:
        self.delivery = delivery
        self.approvals = approvals
        # Adapters read by one known person (the console): adapter name → that user.
        self.readers = dict(readers or {})
        self.routes = routes or {}
        self._sent: dict[str, SentMessage | None] = {}
        self._settled: set[str] = set()
        self._run_card: RunCardPoster | None = None
        approvals.subscribe(self.on_decided)
        gate.add_release_listener(self.on_release)

    def _may_answer_there(self, place: ChatPlace, approval: Approval) -> bool:
        """Whether the one person who reads ``place`` may answer: known for the terminal (the
        console user); elsewhere a card is read by several people, so it keeps its buttons
        (a refused click changes nothing)."""
        reader = self.readers.get(place.adapter)
        return reader is None or self.approvals.may_answer(approval, reader)

    def post_run_cards_with(self, poster: RunCardPoster) -> None:
        self._run_card = poster

    async def post(self, place: ChatPlace, approval: Approval) -> SentMessage | None:
        card = approval_card(approval)
        if not self._may_answer_there(place, approval):
            # Buttons the reader may not press would only be refused; the approvers answer
            # from their own chat or with the CLI.
            note = "(you may not answer this one; an approver can, in chat or with the CLI)"
            card = replace(card, buttons=(), text=f"{card.text}\n{note}".strip())
        try:
            if place.adapter in self.delivery.adapters:
                card = fit_approval_card(card, approval, self.delivery.capabilities(place.adapter))
            sent: SentMessage | None = await self.delivery.send(place, card)
        except (DeliveryError, LookupError):
            logger.warning("approval card %s not posted", approval.id)
            sent = None
        self._sent[approval.id] = sent
        return sent

    async def post_inquiry(self, approval: Approval) -> SentMessage | None:
        """An inquiry's card: to its route, else to the chat the workflow was started from."""
        route = self.routes.get(str(approval.subject.get("route") or ""))
        place = ChatPlace(route.adapter, route.channel) if route else _place(approval)
        if place is None or place.adapter not in self.delivery.adapters:
            logger.info("inquiry %s: no chat to ask in (give it a route)", approval.id)
            return None
        return await self.post(place, approval)

    async def on_release(self, execution: Execution, approval: Approval) -> None:
        # The gate releases before other approval listeners hear of the decision: show it
        # now, and skip it when on_decided comes.
        self._settled.add(approval.id)
        await self.show_outcome(approval)
        if self._run_card is not None:
            await self._run_card(execution)

    async def on_decided(self, approval: Approval) -> None:
        if approval.id in self._settled:
            self._settled.discard(approval.id)
        elif approval.status is not ApprovalStatus.PENDING:
            await self.show_outcome(approval)

    async def show_outcome(self, approval: Approval) -> None:
        sent = self._sent.pop(approval.id, None)
        place = sent.place if sent is not None else _place(approval)
        if place is None or place.adapter not in self.delivery.adapters:
            return
        card = approval_outcome_card(approval)
        try:
            if sent is not None and self.delivery.capabilities(place.adapter).edits:
                await self.delivery.edit(sent, card)
            else:
                await self.delivery.send(place, card)
        except DeliveryError:
            logger.warning("outcome of approval %s not posted", approval.id)


def _place(approval: Approval) -> ChatPlace | None:
    chat = approval.place
    if not chat.get("adapter") or not chat.get("channel"):
        return None
    return ChatPlace(
        str(chat["adapter"]),
        str(chat["channel"]),
        chat.get("thread"),
        None,
        bool(chat.get("direct")),
    )

"""Starting an execution from chat: one path for aliases, ``run`` and ``rerun``.

Values typed in chat are data: control characters are refused, nothing is rendered as a template
(``render_live=False``). The permission check sees the parameters the action will really get
(defaults applied) and is audited either way. An alias with ``approval:`` stores its execution
held and posts an approval card instead of running; everything else gets a run card at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from adapters.base import ChatEvent
from bot.app import Engine
from bot.chat.approval_cards import ApprovalCards
from bot.chat.inbound import Turn
from bot.chat.outbound import Replies, RunCards, place_from_context, reply_place
from core.aliases.params import check_control_characters
from core.aliases.render import render_ack, render_ack_extra
from core.approvals.gate import GatedRequest
from core.approvals.service import split_approvers
from core.authz.authorizer import SquallUser, authorize_execution
from core.executions.service import Admission
from core.models import MASK, Alias, AliasApproval, Execution
from core.params import mask_secrets, merge_parameter_schemas
from core.runners.types import RUNNER_TYPES

__all__ = ["Launch", "Launcher", "PermissionRefused"]


class PermissionRefused(Exception):
    """The user may not run this; the message is safe to show them (no parameter values)."""


@dataclass(frozen=True)
class Launch:
    """One execution to start from a chat turn."""

    action_ref: str
    parameters: Mapping[str, Any]
    alias: Alias | None = None
    # Values the alias itself set (its rendered immutable parameters): not the user's choice.
    fixed: Mapping[str, Any] = field(default_factory=dict)


class Launcher:
    def __init__(
        self, engine: Engine, cards: RunCards, approval_cards: ApprovalCards, replies: Replies
    ) -> None:
        self.engine = engine
        self.cards = cards
        self.approval_cards = approval_cards
        self.replies = replies

    async def launch(self, turn: Turn, launch: Launch) -> Execution:
        """Check, request (or hold for approval) and post the card. Raises PermissionRefused,
        ParameterError, ExecutionError or LookupError (unknown action) before anything runs."""
        service = self.engine.executions
        action = service.action(launch.action_ref)
        schema = merge_parameter_schemas(RUNNER_TYPES[action.runner_type], action)
        check_control_characters(schema, launch.parameters)
        user, event = turn.squall_user, turn.event
        context = chat_context(user, event, launch.alias)
        alias_ref = launch.alias.ref if launch.alias else None

        async def admit(resolved: Mapping[str, Any], holding_secrets: Sequence[str]) -> None:
            decision = authorize_execution(
                self.engine.authz,
                user,
                action_ref=action.ref,
                schema=schema,
                parameters=resolved,
                alias_ref=alias_ref,
                channel=event.place.channel,
                fixed=launch.fixed,
            )
            await self.engine.audit.record_check(
                user,
                decision,
                action_ref=action.ref,
                alias_ref=alias_ref,
                place=event.place,
                masked_parameters={
                    **mask_secrets(schema, resolved),
                    **dict.fromkeys(holding_secrets, MASK),
                },
            )
            if not decision.allowed:
                raise PermissionRefused(f"You may not run {action.ref}: {decision.reason}.")

        if launch.alias is not None and launch.alias.approval is not None:
            return await self._hold(turn, launch, launch.alias.approval, context, admit)
        execution = await service.request(
            action.ref, launch.parameters, context=context, render_live=False, admit=admit
        )
        await self.post_ack(execution, launch.alias)
        return execution

    async def post_released(self, execution: Execution) -> None:
        """The run card of an execution its approval just released."""
        alias_ref = execution.context.get("action_alias_ref")
        aliases = self.engine.content.index.aliases
        await self.post_ack(
            execution, aliases.get(alias_ref) if isinstance(alias_ref, str) else None
        )

    async def post_ack(self, execution: Execution, alias: Alias | None) -> None:
        """The run card where the execution was asked for (no card when the alias's ack is
        disabled: its result is then posted as a new message)."""
        place = place_from_context(execution.context)
        if place is None:
            return
        text, extra = None, None
        if alias is not None:
            api = self.engine.executions.to_api(execution)
            text = render_ack(alias, api)
            if text is None:
                return
            extra = render_ack_extra(alias, api)
        await self.cards.post_ack(place, execution, text, extra)

    async def _hold(
        self,
        turn: Turn,
        launch: Launch,
        gate_spec: AliasApproval,
        context: dict[str, Any],
        admit: Admission,
    ) -> Execution:
        users, roles = split_approvers(gate_spec.approvers)
        gated = GatedRequest(
            action_ref=launch.action_ref,
            parameters=launch.parameters,
            context=context,
            title=f"Run {launch.action_ref} for {turn.squall_user.name}?",
            description=f"asked through alias {context.get('action_alias_ref')}",
            approvers=users,
            approver_roles=roles,
            ttl=timedelta(seconds=gate_spec.ttl_seconds),
            requester_may_approve=gate_spec.requester_may_approve,
        )
        place = reply_place(turn.place)
        held, approval = await self.engine.gate.request(
            gated, requester=turn.squall_user, place=place.to_context(), admit=admit
        )
        await self.approval_cards.post(place, approval)
        return held


def chat_context(user: SquallUser, event: ChatEvent, alias: Alias | None) -> dict[str, Any]:
    """st2's alias execution context (``user``, ``api_user``, ``source_channel``,
    ``action_alias_ref``) plus where in chat the request came from (``context.chat``)."""
    place = reply_place(event.place)
    context: dict[str, Any] = {
        "user": user.name,
        "api_user": user.name,
        "source_channel": event.place.channel,
        "source_context": {"identity": event.identity.key, "display_name": event.display_name},
        "chat": place.to_context(),
    }
    if alias is not None:
        context["action_alias_ref"] = alias.ref
    return context

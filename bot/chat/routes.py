"""Notification routes: named chat destinations from ``routes:`` in the settings.

``ChatOutbox`` is the bot's ``ChatPoster`` (the ``chatops`` pack posts through it); ``RouteSink``
is a completion listener that posts an action's ``notify`` message to every configured route it
names, directly — no rule on ``core.st2.generic.notifytrigger`` is needed (the notifier still
emits those triggers, so st2-style rules keep working too). A notify route that is not configured
is reported at start and by ``doctor`` (``route_errors``) and ignored, as st2 ignores a route
nobody consumes; it never stops the server.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from adapters.base import ChatPlace, OutgoingMessage, SentMessage
from bot.chat.outbound import Delivery, DeliveryError, RunCards
from bot.settings.chat import RouteSettings
from core.executions.api import execution_to_api
from core.executions.notify import (
    effective_notify,
    notify_context,
    notify_sections,
    section_message,
    section_routes,
)
from core.models import Execution
from core.packs import ContentIndex
from core.packs.errors import PackError
from core.runners.chat_post import ChatTarget

logger = logging.getLogger(__name__)

Routes = Mapping[str, RouteSettings]


def route_errors(index: ContentIndex, routes: Routes) -> list[PackError]:
    """Every ``notify.<section>.routes`` entry that names no configured route."""
    errors = []
    for action in sorted(index.actions.values(), key=lambda a: a.ref):
        for section, spec in action.notify.items():
            if not isinstance(spec, Mapping):
                continue
            for route in section_routes(spec):
                if route not in routes:
                    file = action.metadata_file or action.pack_path
                    known = ", ".join(sorted(routes)) or "none; add a routes: entry"
                    message = f"unknown route {route!r} (configured routes: {known})"
                    where = f"notify.{section}.routes"
                    errors.append(PackError(file, where, message + "; ignored", warning=True))
    return errors


def route_adapter_errors(routes: Routes, adapters: Iterable[str]) -> list[str]:
    known = set(adapters)
    return [
        f"routes.{name}.adapter: unknown adapter {route.adapter!r} (running: "
        f"{', '.join(sorted(known)) or 'none'})"
        for name, route in sorted(routes.items())
        if route.adapter not in known
    ]


class ChatOutbox:
    """Resolves routes and channels to places; posts through Delivery (retried, counted)."""

    def __init__(self, delivery: Delivery, routes: Routes, cards: RunCards) -> None:
        self.delivery = delivery
        self.routes = routes
        self.cards = cards

    def place(self, target: ChatTarget) -> ChatPlace:
        if target.route is not None:
            route = self.routes.get(target.route)
            if route is None:
                known = ", ".join(sorted(self.routes)) or "none"
                raise LookupError(f"unknown route {target.route!r} (configured: {known})")
            return ChatPlace(route.adapter, route.channel)
        adapter = target.adapter or next(iter(self.delivery.adapters), None)
        if adapter is None:
            raise LookupError("no chat adapter is running")
        return ChatPlace(adapter, str(target.channel))

    async def post_message(self, target: ChatTarget, message: OutgoingMessage) -> SentMessage:
        return await self.delivery.send(self.place(target), message)

    async def post_result(self, execution_id: str, target: ChatTarget) -> SentMessage:
        return await self.cards.post_result(execution_id, self.place(target))


class RouteSink:
    """Completion listener: ``notify`` messages to their configured routes; never raises."""

    def __init__(self, outbox: ChatOutbox, index: ContentIndex) -> None:
        self.outbox = outbox
        self.index = index

    async def on_completed(self, execution: Execution, adapter: str | None = None) -> None:
        """Post to every route of the action's applicable notify sections whose platform this
        process holds (the holder of another posts from the chat outbox); ``adapter``: only
        the routes on that platform."""
        action = self.index.actions.get(execution.action_ref)
        notify = effective_notify(execution, action)
        if action is None or not notify:
            return
        api = execution_to_api(execution, action)
        context = notify_context(api)
        for section in notify_sections(notify, execution.status):
            spec = notify[section]
            text = str(section_message(section, spec, action.ref, context))
            message = OutgoingMessage(
                text=text,
                title=action.ref,
                status=str(execution.status),
                footer=f"execution {execution.id}",
            )
            for route in section_routes(spec):
                await self._post(route, message, execution.id, adapter)

    async def _post(
        self, route: str, message: OutgoingMessage, execution_id: str, adapter: str | None
    ) -> None:
        settings = self.outbox.routes.get(route)
        if settings is None:
            return  # reported at start; a rule may still consume the notifytrigger
        if settings.adapter not in self.outbox.delivery.adapters:
            return  # another process holds that platform: it posts from the chat outbox
        if adapter is not None and settings.adapter != adapter:
            return
        try:
            await self.outbox.post_message(ChatTarget(route=route), message)
        except (DeliveryError, LookupError) as exc:
            logger.warning("notify route %s of execution %s: %s", route, execution_id, exc)

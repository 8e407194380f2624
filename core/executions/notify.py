"""Completed executions → ``actiontrigger`` and action ``notify`` → ``notifytrigger`` (§5.1, §7.1).

Registered as an ExecutionService completion listener: it runs in its own task, so nothing here
can block or break the execution path, and every error is logged rather than raised. The
instances go through the TriggerDispatcher like any other, so rules on them behave as in st2
(including st2's lack of loop protection: a rule on actiontrigger without criteria fires for its
own executions too, but each round is a new asynchronous instance, never a recursion).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from jinja2 import TemplateError

from core.executions.api import execution_to_api
from core.models import Action, Execution, ExecutionStatus
from core.models.trace import TraceContext
from core.packs import ContentIndex
from core.templates.render import render_template, render_value
from core.triggers.builtin import ACTION_TRIGGER, NOTIFY_TRIGGER
from core.triggers.dispatcher import TriggerDispatcher

__all__ = [
    "Notifier",
    "notify_context",
    "notify_sections",
    "section_message",
    "section_routes",
]

logger = logging.getLogger(__name__)

S = ExecutionStatus
FAILURE_STATUSES = frozenset({S.FAILED, S.TIMEOUT, S.ABANDONED})
# Section → the word of st2's default message, "Action <ref> <word>."
SECTIONS = {"on-complete": "completed", "on-success": "succeeded", "on-failure": "failed"}


# An execution's own ``notify`` (an action-chain task's, or {} for a ``skip_notify`` task),
# recorded in its context; without it the action's ``notify`` applies.
NOTIFY_OVERRIDE = "notify"


def effective_notify(execution: Execution, action: Action | None) -> Mapping[str, Any]:
    """The ``notify`` that applies to ``execution``: its own override, else its action's."""
    override = execution.context.get(NOTIFY_OVERRIDE)
    if isinstance(override, Mapping):
        return override
    return action.notify if action is not None else {}


def notify_sections(notify: Mapping[str, Any], status: ExecutionStatus) -> list[str]:
    """The sections of ``notify`` that apply to a completed ``status``, in st2's order."""
    applies = {
        "on-complete": True,
        "on-success": status is S.SUCCEEDED,
        "on-failure": status in FAILURE_STATUSES,
    }
    return [name for name in SECTIONS if applies[name] and isinstance(notify.get(name), Mapping)]


def _render(value: Any, context: Mapping[str, Any]) -> Any:
    """Render pack-authored text; like st2, a failure keeps the unrendered value."""
    try:
        if isinstance(value, str):
            return render_template(value, context)
        return render_value(value, context)
    except (TemplateError, ValueError, TypeError):
        logger.warning("notify template could not be rendered; kept as written", exc_info=True)
        return value


def notify_context(api: Mapping[str, Any]) -> dict[str, Any]:
    """What notify templates see (st2's names), from the masked execution API dict."""
    return {
        "action_parameters": api["parameters"],
        "action_context": api["context"],
        "action_results": api["result"],
    }


def section_message(
    section: str, spec: Mapping[str, Any], ref: str, context: Mapping[str, Any]
) -> Any:
    """The rendered ``message`` of one notify section (st2's default when none is written)."""
    return _render(spec.get("message") or f"Action {ref} {SECTIONS[section]}.", context)


def section_routes(spec: Mapping[str, Any]) -> list[str]:
    """``routes`` (st2's ``channels`` is the older name) of one notify section."""
    return [str(route) for route in spec.get("routes") or spec.get("channels") or []]


class Notifier:
    def __init__(self, dispatcher: TriggerDispatcher, index: ContentIndex) -> None:
        self.dispatcher = dispatcher
        self.index = index

    @property
    def emit_action_trigger(self) -> bool:
        # An actiontrigger costs three store writes per execution; emit it only when an enabled
        # rule consumes it (asked each time: rules can be enabled while running).
        return self.dispatcher.rules.consumes(ACTION_TRIGGER)

    def wants(self, execution: Execution) -> bool:
        """Whether ``on_completed`` has anything to emit for ``execution`` (its listener
        filter: most completions need neither an actiontrigger nor a notification)."""
        action = self.index.actions.get(execution.action_ref)
        return self.emit_action_trigger or bool(effective_notify(execution, action))

    async def on_completed(self, execution: Execution) -> None:
        """Emit the triggers for one completed execution; never raises."""
        try:
            action = self.index.actions.get(execution.action_ref)
            if not self.emit_action_trigger and not effective_notify(execution, action):
                return
            api = execution_to_api(execution, action)
            if self.emit_action_trigger:
                await self._action_trigger(api)
            await self._notify(execution, api)
        except Exception:
            logger.exception("notifications for execution %s failed", execution.id)

    async def _action_trigger(self, api: Mapping[str, Any]) -> None:
        payload = {
            "execution_id": api["id"],
            "status": api["status"],
            "start_timestamp": api["start_timestamp"],
            "action_name": api["action"]["ref"],
            "action_ref": api["action"]["ref"],
            "runner_ref": api["runner"]["name"],
            "parameters": api["parameters"],
            "result": api["result"],
        }
        await self.dispatcher.dispatch(
            ACTION_TRIGGER,
            payload,
            source="execution",
            dedupe_key=f"{api['id']}:action",
            trace=TraceContext.of_execution(api["context"]),
        )

    async def _notify(self, execution: Execution, api: Mapping[str, Any]) -> None:
        notify = effective_notify(execution, self.index.actions.get(execution.action_ref))
        if not notify:
            return
        context = notify_context(api)
        for section in notify_sections(notify, execution.status):
            await self._notify_section(section, notify[section], api, context)

    async def _notify_section(
        self,
        section: str,
        spec: Mapping[str, Any],
        api: Mapping[str, Any],
        context: Mapping[str, Any],
    ) -> None:
        ref = api["action"]["ref"]
        message = section_message(section, spec, ref, context)
        data = _render(dict(spec.get("data") or {}), context)
        data = {**data, "result": json.dumps(api["result"], default=str)}
        for route in section_routes(spec):
            payload = {
                "execution_id": api["id"],
                "status": api["status"],
                "start_timestamp": api["start_timestamp"],
                "end_timestamp": api["end_timestamp"],
                "action_ref": ref,
                "runner_ref": api["runner"]["name"],
                "route": route,
                "channel": route,
                "message": message,
                "data": data,
            }
            key = f"{api['id']}:{section}:{route}"
            await self.dispatcher.dispatch(
                NOTIFY_TRIGGER,
                payload,
                dedupe_key=key,
                source="notify",
                trace=TraceContext.of_execution(api["context"]),
            )

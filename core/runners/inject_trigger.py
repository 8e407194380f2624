"""``inject-trigger``: the in-process runner behind ``core.inject_trigger`` (st2-format §11).

StackStorm's action posts to its own webhook API; here the engine hands the runner a dispatch
callable when it is built (core never reaches for the dispatcher itself), so the instance goes
through the same ``TriggerDispatcher`` as webhooks and rules fire.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from core.models import ExecutionStatus, RunnerType
from core.models.trace import TraceContext
from core.runners.base import RunContext, RunnerResult
from core.runners.types import INJECT_TRIGGER

# (trigger ref, payload, source) → the stored instance's id; raises for an unknown trigger.
# (trigger ref, payload, source, trace tag, trace) → the stored instance's id. The instance
# joins the tagged trace when a tag is given, else the injecting execution's trace.
TriggerSink = Callable[[str, dict[str, Any], str, str | None, TraceContext | None], Awaitable[str]]


class TriggerInputError(ValueError):
    """The action's parameters do not name a trigger or carry an object payload."""


def trigger_request(parameters: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(trigger ref, payload)``; st2 accepts ``trigger_name`` and the legacy ``trigger``."""
    ref = parameters.get("trigger_name") or parameters.get("trigger")
    if not isinstance(ref, str) or not ref.strip():
        raise TriggerInputError("parameter 'trigger' (or 'trigger_name') must name a trigger")
    payload = parameters.get("payload")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise TriggerInputError(f"parameter 'payload' must be an object, not {payload!r}")
    return ref.strip(), payload


class InjectTriggerRunner:
    runner_type: RunnerType = INJECT_TRIGGER

    def __init__(self) -> None:
        self._sink: TriggerSink | None = None

    def connect(self, sink: TriggerSink) -> None:
        """Given by the engine once its trigger dispatcher exists."""
        self._sink = sink

    async def run(self, ctx: RunContext) -> RunnerResult:
        if self._sink is None:
            return RunnerResult.failed("trigger dispatch is not available in this Squall process")
        try:
            ref, payload = trigger_request(ctx.action_parameters)
            tag = ctx.action_parameters.get("trace_tag")
            tag = tag if isinstance(tag, str) and tag else None
            trace = None if tag else TraceContext.of_execution(ctx.context)
            source = f"execution:{ctx.execution_id}"
            instance_id = await self._sink(ref, payload, source, tag, trace)
        except Exception as exc:  # unknown trigger, store failure: the execution says why
            return RunnerResult.failed(f"cannot inject trigger: {exc}")
        result = {
            "trigger": ref,
            "payload": payload,
            "trace_tag": ctx.action_parameters.get("trace_tag"),
            "trigger_instance": instance_id,
        }
        return RunnerResult(ExecutionStatus.SUCCEEDED, result)

    async def close(self) -> None:
        """Nothing to release."""

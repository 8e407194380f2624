"""Execution changes as st2's stream events (``st2.execution__create`` …) on a StreamBus.

st2 publishes an execution's changes twice, as the execution and as its liveaction; Squall has
one record for both, so both events carry the execution's API document (with ``liveaction``
naming the same id). Output arrives in chunks as ``st2.execution.output__create``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.models import Execution
from core.models.execution import isoformat, new_id, utcnow
from core.stream.bus import StreamBus

ToApi = Callable[[Execution], dict[str, Any]]


class ExecutionEvents:
    """An execution observer (see ExecutionService.add_observer) that publishes on ``bus``."""

    def __init__(self, bus: StreamBus, to_api: ToApi) -> None:
        self._bus = bus
        self._to_api = to_api

    def created(self, execution: Execution) -> None:
        self._publish("create", execution)

    def updated(self, execution: Execution) -> None:
        self._publish("update", execution)

    def output(self, execution: Execution, output_type: str, text: str) -> None:
        doc = {
            "id": new_id(),
            "execution_id": execution.id,
            "action_ref": execution.action_ref,
            "runner_ref": execution.runner_type,
            "timestamp": isoformat(utcnow()),
            "output_type": output_type,
            "data": text,
        }
        self._bus.publish("st2.execution.output__create", lambda: doc)

    def _publish(self, verb: str, execution: Execution) -> None:
        cache: dict[str, Any] = {}

        def make() -> dict[str, Any]:
            if not cache:
                cache.update(self._to_api(execution))
                cache["liveaction"] = {"id": execution.id}
            return cache

        self._bus.publish(f"st2.execution__{verb}", make)
        self._bus.publish(f"st2.liveaction__{verb}", make)

"""Execution changes as st2's stream events (``st2.execution__create`` …) on a StreamBus.

st2 publishes an execution's changes twice, as the execution and as its liveaction; Squall has
one record for both, so both events carry the execution's API document (with ``liveaction``
naming the same id). Output arrives in chunks as ``st2.execution.output__create``.

Changes other processes made reach this one through ``seen`` (core.stream.follower reads
them from the store). Every change is a status transition that adds to the execution's
``log``, so the log's length is its version: a state already published here (by this process,
or read before) is not published again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from core.models import Execution
from core.models.execution import isoformat, new_id, utcnow
from core.stream.bus import StreamBus

ToApi = Callable[[Execution], dict[str, Any]]
REMEMBERED = 50_000  # versions kept (a bounded LRU): far more than are in flight at once


class ExecutionEvents:
    """An execution observer (see ExecutionService.add_observer) that publishes on ``bus``."""

    def __init__(self, bus: StreamBus, to_api: ToApi) -> None:
        self._bus = bus
        self._to_api = to_api
        # id → (version, whether it was read from the store rather than changed here)
        self._versions: OrderedDict[str, tuple[int, bool]] = OrderedDict()

    def created(self, execution: Execution) -> None:
        self._remember(execution, read=False)
        self._publish("create", execution)

    def updated(self, execution: Execution) -> None:
        known = self._versions.get(execution.id)
        if known is not None and known[1] and known[0] >= len(execution.log):
            return  # the follower read this state (or a later one) from the store first
        self._remember(execution, read=False)
        self._publish("update", execution)

    def seen(self, execution: Execution, *, publish: bool = True) -> None:
        """A state read from the store: published unless this version already was (or
        ``publish`` is False: a baseline, what was there before anyone listened)."""
        known = self._versions.get(execution.id)
        if known is not None and known[0] >= len(execution.log):
            self._versions.move_to_end(execution.id)
            return
        self._remember(execution, read=True)
        if not publish:
            return
        if known is None:
            self._publish("create", execution)
        if known is not None or len(execution.log) > 1:
            self._publish("update", execution)

    def _remember(self, execution: Execution, *, read: bool) -> None:
        self._versions[execution.id] = (len(execution.log), read)
        self._versions.move_to_end(execution.id)
        if len(self._versions) > REMEMBERED:
            self._versions.popitem(last=False)

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

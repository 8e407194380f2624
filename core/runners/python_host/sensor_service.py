"""``self.sensor_service`` of a pack sensor: dispatch, logger and datastore, as in st2.

Every call that needs Squall is one request on the sensor's channel, answered before the call
returns: ``dispatch`` returns once the trigger instance is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .action_service import DatastoreCalls

Request = Callable[[str, dict[str, Any]], Any]


class SensorService(DatastoreCalls):
    def __init__(self, request: Request, pack: str, class_name: str) -> None:
        # Datastore calls go out on the same channel; keys with local=True live under
        # "<pack>.<ClassName>:", as for actions in st2.
        super().__init__(pack, class_name, transport=request)
        self._request = request
        self._logger = self.get_logger("sensor_service")

    def get_logger(self, name: str) -> logging.Logger:
        return logging.getLogger(f"SensorService.{self.pack}.{self.class_name}.{name}")

    def dispatch(
        self, trigger: str, payload: dict[str, Any] | None = None, trace_tag: str | None = None
    ) -> None:
        trace_context = {"trace_tag": trace_tag} if trace_tag else None
        self.dispatch_with_context(trigger, payload, trace_context)

    def dispatch_with_context(
        self,
        trigger: str,
        payload: dict[str, Any] | None = None,
        trace_context: dict[str, Any] | None = None,
    ) -> None:
        """Store a trigger instance; a refused payload is logged, not raised (as st2)."""
        args = {"trigger": trigger, "payload": payload or {}, "trace_context": trace_context}
        try:
            self._request("dispatch", args)
        except Exception as e:
            self._logger.error('Failed to dispatch trigger "%s": %s', trigger, e)

"""The action's half of the datastore channel (stdlib only: it runs inside pack code).

One JSON line per call, ``{"method": ..., "args": {...}}``, answered by one line holding
``{"result": ...}`` or ``{"error": "..."}``. Squall's half is ``core/runners/python_datastore.py``.
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any


class DatastoreError(RuntimeError):
    """Squall refused a datastore call (bad name, scope, TTL, undecryptable secret...)."""


class SocketTransport:
    """Blocking request/response over the inherited socket; one call at a time."""

    def __init__(self, fd: int) -> None:
        self._sock = socket.socket(fileno=fd)
        self._file = self._sock.makefile("rwb")
        # Actions may call the service from several threads; answers must not interleave.
        self._lock = threading.Lock()

    def __call__(self, method: str, arguments: dict[str, Any]) -> Any:
        line = json.dumps({"method": method, "args": arguments}).encode() + b"\n"
        with self._lock:
            try:
                self._file.write(line)
                self._file.flush()
                answer = self._file.readline()
            except OSError as e:
                raise DatastoreError(f"the datastore channel to Squall failed: {e}") from e
        if not answer:
            raise DatastoreError("Squall closed the datastore channel")
        response = json.loads(answer)
        if "error" in response:
            raise DatastoreError(response["error"])
        return response.get("result")

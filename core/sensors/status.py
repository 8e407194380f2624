"""What each sensor is doing, for ``squall sensor list``, ``doctor`` and ``/readyz``.

``squall serve`` writes a snapshot file on every change (atomically: write, then rename);
other commands read it and check the writer is still alive.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any


class SensorState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    BACKOFF = "backoff"  # exited; restarting after a delay
    FAILED = "failed"  # gave up after too many failures
    STOPPED = "stopped"
    DISABLED = "disabled"


@dataclass(frozen=True)
class SensorStatus:
    ref: str
    pack: str
    state: SensorState
    pid: int | None = None
    restarts: int = 0
    last_error: str = ""


def write_snapshot(path: Path, statuses: Iterable[SensorStatus]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"pid": os.getpid(), "sensors": [asdict(status) for status in statuses]}
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(data, indent=1))
    temporary.replace(path)


@dataclass(frozen=True)
class Snapshot:
    writer_pid: int | None
    writer_alive: bool
    sensors: dict[str, SensorStatus]


def read_snapshot(path: Path) -> Snapshot:
    """The last snapshot (empty when there is none)."""
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return Snapshot(None, False, {})
    pid = data.get("pid")
    sensors = {}
    for item in data.get("sensors", []):
        status = SensorStatus(**{**item, "state": SensorState(item["state"])})
        sensors[status.ref] = status
    return Snapshot(pid, isinstance(pid, int) and _alive(pid), sensors)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

"""``sensors`` settings as the container receives them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from core.runners.pack_python import PackPythonSettings
from core.sensors.backoff import RestartPolicy


@dataclass(frozen=True)
class SensorOverride:
    enabled: bool | None = None
    poll_interval: float | None = None


@dataclass(frozen=True)
class SensorOptions:
    validate_payload: bool = True
    restart: RestartPolicy = field(default_factory=RestartPolicy)
    # Seconds for cleanup(), then again after SIGTERM, before SIGKILL.
    stop_grace_seconds: float = 5.0
    overrides: Mapping[str, SensorOverride] = field(default_factory=dict)
    status_file: Path | None = None
    pack_python: PackPythonSettings = field(default_factory=PackPythonSettings)

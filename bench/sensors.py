"""Sensor overhead: how fast a sensor's ``dispatch`` round trip is, and how long a start takes.

A real sensor process (python host bootstrap + st2 shim) dispatching in a tight loop through the
real container, dispatcher and SQLite store (``open_engine``); no rule listens, so the number is
the sensor → Squall → stored-instance path itself.

* dispatch: instances stored per second over a fixed count (each ``dispatch`` returns only once
  its instance is stored), with and without payload_schema validation.
* start: from ``container.start`` to the sensor reporting ``running`` (setup done).

Run alone with ``python -m bench.sensors`` (prints JSON).
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bot.app import open_engine
from bot.sensors import build_container, sensor_options, sensor_specs
from bot.settings import load_settings

DISPATCHES = 2_000
WAIT_SECONDS = 120.0
SENSOR = """
from st2reactor.sensor.base import Sensor


class Burst(Sensor):
    def setup(self):
        pass

    def run(self):
        n = 0
        while True:
            n += 1
            self.sensor_service.dispatch(trigger="bench.hit", payload={"n": n})

    def cleanup(self):
        pass

    def add_trigger(self, trigger):
        pass

    def update_trigger(self, trigger):
        pass

    def remove_trigger(self, trigger):
        pass
"""
METADATA = """class_name: Burst
entry_point: burst.py
trigger_types:
  - name: hit
    payload_schema: {type: object, properties: {n: {type: integer}}, required: [n]}
"""


def _workdir(workdir: Path, validate: bool) -> Path:
    pack = workdir / "bench"
    (pack / "sensors").mkdir(parents=True, exist_ok=True)
    (pack / "pack.yaml").write_text(
        "ref: bench\nname: bench\ndescription: bench\nversion: 0.1.0\nauthor: b\n"
    )
    (pack / "sensors" / "burst.yaml").write_text(METADATA)
    (pack / "sensors" / "burst.py").write_text(SENSOR)
    config = workdir / f"squall-{validate}.yaml"
    config.write_text(
        f"store: {{url: 'sqlite:///squall-{validate}.db'}}\npacks: {{paths: ['{pack}']}}\n"
        f"http: {{enabled: false}}\nsensors: {{validate_payload: {str(validate).lower()}}}\n"
    )
    return config


async def _one(workdir: Path, validate: bool) -> dict[str, Any]:
    settings = load_settings(_workdir(workdir, validate))
    async with open_engine(settings) as engine:
        stored = 0
        done = asyncio.Event()
        first_at: list[float] = []

        def count(ref: str, instance_id: str, args: Any) -> None:
            nonlocal stored
            stored += 1
            if stored == 1:
                first_at.append(time.perf_counter())
            if stored == DISPATCHES + 1:
                done.set()

        container = build_container(
            engine, sensor_specs(engine), sensor_options(settings, publish=False),
            dispatcher=engine.triggers.store_only(), on_dispatch=count,
        )  # fmt: skip
        started = time.perf_counter()
        await container.start({})
        await asyncio.wait_for(done.wait(), WAIT_SECONDS)
        ended = time.perf_counter()
        await container.stop()
    return {
        "case": f"dispatch, validate_payload={str(validate).lower()}",
        "dispatches": DISPATCHES,
        "per_second": round(DISPATCHES / (ended - first_at[0])),
        "start_to_first_dispatch_ms": round((first_at[0] - started) * 1000, 1),
    }


async def run(workdir: Path) -> list[dict[str, Any]]:
    return [await _one(workdir, validate) for validate in (True, False)]


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(run(Path(tmp))), indent=2))
    sys.exit(0)

"""Pack sensors in ``squall serve``: the container built from settings, and its refresh loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

from bot.app import Engine, pack_python_settings
from bot.settings import Settings
from core.models.rule_state import overrides_of
from core.packs.errors import PackError
from core.sensors.backoff import RestartPolicy
from core.sensors.container import SensorContainer, stored_overrides
from core.sensors.options import SensorOptions, SensorOverride
from core.sensors.specs import SensorSpec, load_sensor_specs
from core.store import Store
from core.triggers.dispatcher import TriggerDispatcher

logger = logging.getLogger(__name__)


def status_path(settings: Settings) -> Path:
    return settings.sensors.status_file


def sensor_options(settings: Settings, *, publish: bool = True) -> SensorOptions:
    sensors = settings.sensors
    return SensorOptions(
        validate_payload=sensors.validate_payload,
        restart=RestartPolicy(
            initial_seconds=sensors.restart_initial_seconds,
            max_seconds=sensors.restart_max_seconds,
            max_failures=sensors.max_failures,
            window_seconds=sensors.failure_window_seconds,
        ),
        stop_grace_seconds=sensors.stop_grace_seconds,
        overrides={
            ref: SensorOverride(o.enabled, o.poll_interval) for ref, o in sensors.overrides.items()
        },
        status_file=status_path(settings) if publish else None,
        pack_python=pack_python_settings(settings),
    )


def sensor_specs(engine: Engine) -> list[SensorSpec]:
    errors: list[PackError] = []
    specs = load_sensor_specs(engine.content.index.packs.values(), errors)
    for error in errors:
        logger.error("sensor skipped: %s", error)
    return specs


async def stored_sensor_overrides(store: Store) -> dict[str, bool]:
    return stored_overrides(overrides_of(await store.rule_states.list()))


def build_container(
    engine: Engine,
    specs: list[SensorSpec],
    options: SensorOptions,
    *,
    dispatcher: TriggerDispatcher | None,
    on_dispatch: Callable[[str, str, Mapping[str, Any]], None] | None = None,
) -> SensorContainer:
    return SensorContainer(
        specs,
        index=engine.content.index,
        rules=engine.rules,
        dispatcher=dispatcher,
        kv=engine.kv,
        options=options,
        on_dispatch=on_dispatch,
    )


@contextlib.asynccontextmanager
async def run_sensors(engine: Engine, settings: Settings) -> AsyncIterator[SensorContainer | None]:
    """The sensors of ``serve``: none when ``sensors.enabled`` is off or the ``sensors`` role is
    not ours; otherwise they run while this process holds the cluster's ``sensors`` lease (a
    lone process takes it at once)."""
    if not settings.sensors.enabled or not settings.cluster.has("sensors"):
        yield None
        return
    specs = sensor_specs(engine)
    container = build_container(engine, specs, sensor_options(settings), dispatcher=engine.triggers)
    leader = SensorLeader(container, engine.store, settings.rules.refresh_seconds)
    keeper = engine.cluster.keeper("sensors", leader.start, leader.stop)
    await keeper.start()
    try:
        yield container
    finally:
        await keeper.stop()
        await leader.stop()


class SensorLeader:
    """Starts the container (and its refresh loop) when the lease is gained, stops it when
    lost."""

    def __init__(self, container: SensorContainer, store: Store, refresh_seconds: float) -> None:
        self.container = container
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._refresh: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.container.start(await stored_sensor_overrides(self.store))
        self._refresh = asyncio.create_task(
            _refresh_forever(self.container, self.store, self.refresh_seconds),
            name="sensor-refresh",
        )

    async def stop(self) -> None:
        refresh, self._refresh = self._refresh, None
        if refresh is None:
            return
        refresh.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresh
        await self.container.stop()


async def reload_sensors(engine: Engine, container: SensorContainer) -> None:
    """After a content reload: the sensors as ``sensors/*.yaml`` now say."""
    await container.replace_specs(sensor_specs(engine))


async def _refresh_forever(container: SensorContainer, store: Store, seconds: float) -> None:
    """``squall sensor enable|disable`` from another process take effect within ``seconds``."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await container.apply_stored(await stored_sensor_overrides(store))
        except Exception:
            logger.exception("could not refresh the sensors' enable/disable overrides")

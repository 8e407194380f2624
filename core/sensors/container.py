"""All sensors of a ``squall serve``: start, supervise, feed triggers, report, stop.

Enabled is decided in this order: ``squall sensor enable|disable`` (stored), then
``sensors.overrides.<ref>.enabled``, then the metadata's ``enabled``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from core.kv.service import KeyValueService
from core.models import utcnow
from core.packs import ContentIndex
from core.rules.ruleset import RuleSet
from core.runners.pack_python import pack_python
from core.runners.python_datastore import DatastoreCaller, DatastoreHandler
from core.sensors.dispatch import dispatch_from_sensor
from core.sensors.options import SensorOptions
from core.sensors.process import SensorLaunch, SensorProcess
from core.sensors.specs import SensorSpec
from core.sensors.status import SensorState, SensorStatus, write_snapshot
from core.sensors.supervisor import Supervisor
from core.sensors.triggers import TriggerDict, sensor_triggers, trigger_changes
from core.triggers.dispatcher import TriggerDispatcher

logger = logging.getLogger(__name__)

SPAWN_TRIGGER = "core.st2.sensor.process_spawn"
EXIT_TRIGGER = "core.st2.sensor.process_exit"
# Stored beside the rules' enable/disable overrides (same store table, this key prefix), so
# every store backend keeps them without a schema change.
OVERRIDE_PREFIX = "sensor:"


def stored_overrides(states: Mapping[str, bool]) -> dict[str, bool]:
    """``squall sensor enable|disable`` overrides among the stored rule states."""
    return {
        ref[len(OVERRIDE_PREFIX) :]: enabled
        for ref, enabled in states.items()
        if ref.startswith(OVERRIDE_PREFIX)
    }


def effective_enabled(spec: SensorSpec, options: SensorOptions, stored: Mapping[str, bool]) -> bool:
    if spec.ref in stored:
        return stored[spec.ref]
    override = options.overrides.get(spec.ref)
    if override is not None and override.enabled is not None:
        return override.enabled
    return spec.enabled


class SensorContainer:
    def __init__(
        self,
        specs: Iterable[SensorSpec],
        *,
        index: ContentIndex,
        rules: RuleSet,
        # None: dispatches are checked and reported to on_dispatch, stored nowhere.
        dispatcher: TriggerDispatcher | None,
        kv: KeyValueService,
        options: SensorOptions,
        on_dispatch: Callable[[str, str, Mapping[str, Any]], None] | None = None,
    ) -> None:
        self.specs = {spec.ref: spec for spec in specs}
        self.index = index
        self.rules = rules
        self.dispatcher = dispatcher
        self.options = options
        self._datastore = DatastoreHandler(kv, DatastoreCaller(None))
        self._supervisors: dict[str, Supervisor] = {}
        self._triggers: dict[str, dict[str, TriggerDict]] = {}
        self._stored: dict[str, bool] = {}
        self._on_dispatch = on_dispatch
        self._pending: set[asyncio.Task[None]] = set()
        self._subscribed = False
        # Only a started container writes the status file: in a cluster, the process holding
        # the sensors lease is the one whose state counts.
        self._active = False

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self, stored: Mapping[str, bool] | None = None) -> None:
        """Start the enabled sensors (again after ``stop``, when a lease comes back)."""
        self._stored = dict(stored or {})
        self._active = True
        for spec in self.specs.values():
            self._triggers[spec.ref] = sensor_triggers(spec.trigger_types, self.rules.all())
            if effective_enabled(spec, self.options, self._stored):
                self._start(spec)
        if not self._subscribed:
            self.rules.subscribe(self._rules_changed)
            self._subscribed = True
        self._publish()

    async def stop(self) -> None:
        supervisors, self._supervisors = list(self._supervisors.values()), {}
        grace = self.options.stop_grace_seconds
        await asyncio.gather(*(s.stop(grace) for s in supervisors), return_exceptions=True)
        await asyncio.gather(*self._pending, return_exceptions=True)
        self._publish()
        self._active = False

    async def apply_stored(self, stored: Mapping[str, bool]) -> None:
        """Start or stop sensors after ``squall sensor enable|disable`` (from another process)."""
        self._stored = dict(stored)
        for spec in self.specs.values():
            wanted = effective_enabled(spec, self.options, self._stored)
            running = spec.ref in self._supervisors
            if wanted and not running:
                logger.warning("sensor %s enabled", spec.ref)
                self._start(spec)
            elif running and not wanted:
                logger.warning("sensor %s disabled", spec.ref)
                await self._supervisors.pop(spec.ref).stop(self.options.stop_grace_seconds)
        self._publish()

    async def replace_specs(self, specs: Iterable[SensorSpec]) -> None:
        """After a content reload: start new sensors, stop removed ones, restart changed ones
        (a different entry point, class, poll interval or trigger types)."""
        fresh = {spec.ref: spec for spec in specs}
        grace = self.options.stop_grace_seconds
        for ref, old in list(self.specs.items()):
            if fresh.get(ref) != old and ref in self._supervisors:
                logger.warning("sensor %s %s by a content reload", ref,
                               "changed" if ref in fresh else "removed")  # fmt: skip
                await self._supervisors.pop(ref).stop(grace)
        self.specs = fresh
        for ref, spec in fresh.items():
            self._triggers[ref] = sensor_triggers(spec.trigger_types, self.rules.all())
            wanted = self._active and effective_enabled(spec, self.options, self._stored)
            if wanted and ref not in self._supervisors:
                self._start(spec)
        self._publish()

    # -- reporting ------------------------------------------------------------------------
    def statuses(self) -> list[SensorStatus]:
        found = []
        for ref, spec in self.specs.items():
            supervisor = self._supervisors.get(ref)
            if supervisor is not None:
                found.append(supervisor.status())
            elif effective_enabled(spec, self.options, self._stored):
                found.append(SensorStatus(ref, spec.pack, SensorState.STOPPED))
            else:
                found.append(SensorStatus(ref, spec.pack, SensorState.DISABLED))
        return found

    def failed(self) -> list[SensorStatus]:
        return [s for s in self.statuses() if s.state is SensorState.FAILED]

    def _publish(self) -> None:
        if self._active and self.options.status_file is not None:
            try:
                write_snapshot(self.options.status_file, self.statuses())
            except OSError as exc:
                logger.warning("cannot write %s: %s", self.options.status_file, exc)

    # -- one sensor -----------------------------------------------------------------------
    def _start(self, spec: SensorSpec) -> None:
        supervisor = Supervisor(
            spec.ref,
            spec.pack,
            lambda: self._process(spec),
            self.options.restart,
            on_event=self._lifecycle,
            on_change=self._publish,
        )
        self._supervisors[spec.ref] = supervisor
        supervisor.start()

    def _process(self, spec: SensorSpec) -> SensorProcess:
        pack = self.index.packs.get(spec.pack)
        override = self.options.overrides.get(spec.ref)
        interval = (override.poll_interval if override else None) or spec.poll_interval
        launch = SensorLaunch(
            spec=spec,
            python=pack_python(self.options.pack_python, spec.pack, spec.pack_path),
            config=pack.config if pack is not None else {},
            poll_interval=interval,
            triggers=tuple(self._triggers.get(spec.ref, {}).values()),
        )

        async def handle(method: str, args: Mapping[str, Any]) -> Any:
            if method == "dispatch":
                instance_id = await dispatch_from_sensor(
                    self.dispatcher, self.index, spec.ref, args, self._by_ref(spec.ref),
                    validate=self.options.validate_payload,
                )  # fmt: skip
                if self._on_dispatch is not None:
                    self._on_dispatch(spec.ref, instance_id, args)
                return None
            return await self._datastore.handle(method, args)

        return SensorProcess(launch, handle)

    def _by_ref(self, sensor_ref: str) -> dict[str, TriggerDict]:
        return {str(t["ref"]): t for t in self._triggers.get(sensor_ref, {}).values()}

    async def _lifecycle(self, event: str, process: SensorProcess, code: int | None) -> None:
        if self.dispatcher is None:
            return
        info: dict[str, Any] = {"id": process.ref, "timestamp": utcnow().isoformat()}
        if event == "spawn":
            trigger, info["pid"] = SPAWN_TRIGGER, process.pid
        else:
            trigger, info["exit_code"] = EXIT_TRIGGER, code
        try:
            await self.dispatcher.dispatch(trigger, {"object": info}, source="sensor-container")
        except Exception:
            logger.exception("could not emit %s for sensor %s", trigger, process.ref)

    # -- triggers -------------------------------------------------------------------------
    def _rules_changed(self, rules: RuleSet) -> None:
        task = asyncio.ensure_future(self._send_trigger_changes(rules))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _send_trigger_changes(self, rules: RuleSet) -> None:
        for ref, spec in self.specs.items():
            before = self._triggers.get(ref, {})
            after = sensor_triggers(spec.trigger_types, rules.all())
            self._triggers[ref] = after
            supervisor = self._supervisors.get(ref)
            for change in trigger_changes(before, after):
                logger.info("sensor %s: %s %s", ref, change.op, change.trigger["ref"])
                if supervisor is not None:
                    await supervisor.change(change)

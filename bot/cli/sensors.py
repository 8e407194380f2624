"""``squall sensor list|enable|disable|run``: the packs' sensors and what ``serve`` does with them.

``enable``/``disable`` store an override (beside the rules' ones); a running ``serve`` starts
or stops the sensor within ``rules.refresh_seconds``. ``list`` shows what the running ``serve``
last reported (``sensors.status_file``). ``run`` starts one sensor in the foreground for
debugging: its log on stderr, one JSON line per dispatch on stdout; ``--store`` also stores the
trigger instances for a ``serve`` to process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Mapping
from typing import Any

from bot.app import Engine, open_engine
from bot.chat.render import table
from bot.cli.commands import emit, settings_for
from bot.cli.subcommands import CLI_USER, SubParsers
from bot.sensors import (
    build_container,
    sensor_options,
    sensor_specs,
    status_path,
    stored_sensor_overrides,
)
from core.sensors.container import OVERRIDE_PREFIX, effective_enabled
from core.sensors.options import SensorOptions
from core.sensors.specs import SensorSpec
from core.sensors.status import read_snapshot

LIST_COLUMNS = ("ref", "pack", "enabled", "status", "pid", "restarts", "last_error")


class UnknownSensorError(LookupError):
    def __init__(self, ref: str, known: list[str]) -> None:
        super().__init__(f"unknown sensor {ref!r}; sensors: {', '.join(known) or 'none'}")


def add_sensor_parser(
    sub: SubParsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    sensor = sub.add_parser("sensor", parents=[common], help="list, switch or run pack sensors")
    sensor_sub = sensor.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    sensor_sub.add_parser("list", parents=[common], help="sensors and their state").set_defaults(
        handler=sensor_list
    )
    for name, enabled in (("enable", True), ("disable", False)):
        switch = sensor_sub.add_parser(name, parents=[common], help=f"{name} a sensor (live)")
        switch.add_argument("ref")
        switch.set_defaults(handler=sensor_switch, enabled=enabled)
    run = sensor_sub.add_parser("run", parents=[common], help="run one sensor in the foreground")
    run.add_argument("ref")
    run.add_argument("--store", action="store_true", help="also store the trigger instances")
    run.add_argument("--count", type=int, help="stop after this many dispatches")
    run.add_argument("--seconds", type=float, help="stop after this long")
    run.set_defaults(handler=sensor_run)


def _find(specs: list[SensorSpec], ref: str) -> SensorSpec:
    for spec in specs:
        if spec.ref == ref:
            return spec
    raise UnknownSensorError(ref, [s.ref for s in specs])


async def sensor_list(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    async with open_engine(settings, start=False) as engine:
        specs = sensor_specs(engine)
        stored = await stored_sensor_overrides(engine.store)
    snapshot = read_snapshot(status_path(settings))
    rows = []
    for spec in specs:
        enabled = effective_enabled(spec, sensor_options(settings, publish=False), stored)
        live = snapshot.sensors.get(spec.ref) if snapshot.writer_alive else None
        rows.append(
            {
                "ref": spec.ref,
                "pack": spec.pack,
                "enabled": enabled,
                "status": str(live.state) if live else "not running (no serve)",
                "pid": live.pid if live else None,
                "restarts": live.restarts if live else 0,
                "last_error": live.last_error if live else "",
                "trigger_types": list(spec.trigger_types),
            }
        )
    emit(args, rows, table(rows, LIST_COLUMNS) if rows else "no sensors")
    return 0


async def sensor_switch(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        _find(sensor_specs(engine), args.ref)
        await engine.store.rule_states.set(OVERRIDE_PREFIX + args.ref, args.enabled, CLI_USER)
    word = "enabled" if args.enabled else "disabled"
    emit(args, {"ref": args.ref, "enabled": args.enabled}, f"sensor {args.ref} {word}")
    return 0


async def sensor_run(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    logging.getLogger("core.sensors").setLevel(logging.INFO)
    async with open_engine(settings, start=False) as engine:
        spec = _find(sensor_specs(engine), args.ref)
        return await _run_foreground(engine, spec, args, sensor_options(settings, publish=False))


async def _run_foreground(
    engine: Engine, spec: SensorSpec, args: argparse.Namespace, options: SensorOptions
) -> int:
    done = asyncio.Event()
    seen = 0

    def printed(ref: str, instance_id: str, dispatched: Mapping[str, Any]) -> None:
        nonlocal seen
        seen += 1
        line = {
            "sensor": ref,
            "trigger": dispatched.get("trigger"),
            "payload": dispatched.get("payload"),
            "instance_id": instance_id or None,
        }
        print(json.dumps(line, default=str), flush=True)
        if args.count is not None and seen >= args.count:
            done.set()

    dispatcher = engine.triggers.store_only() if args.store else None
    container = build_container(engine, [spec], options, dispatcher=dispatcher, on_dispatch=printed)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    await container.start({spec.ref: True})
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), args.seconds)
    finally:
        await container.stop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    print(f"sensor {spec.ref}: {seen} dispatches", file=sys.stderr)
    return 0

"""Pack sensors in real subprocesses under an in-process engine (tests/fixtures/sensors)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.app import Engine, open_engine
from bot.http.app import build_web_app
from bot.reload import ContentReloads
from bot.sensors import reload_sensors, run_sensors
from bot.settings import load_settings
from core.models import ExecutionStatus
from core.observe.metrics import REGISTRY
from core.sensors.container import SensorContainer
from core.sensors.status import SensorState, read_snapshot
from core.store.base import ExecutionQuery
from tests.conftest import FIXTURES, poll_until, process_alive, wait_dead

PACK = FIXTURES / "sensors" / "sensor_demo"
WAIT = 30.0


def _config(tmp_path: Path, extra: str = "", *, packs: bool = True) -> Path:
    config = tmp_path / "squall.yaml"
    config.write_text(
        "store: {url: 'sqlite:///var/squall.db'}\n"
        + (f"packs: {{paths: ['{PACK}']}}\n" if packs else "")
        + "http: {enabled: false}\n"
        "rules: {refresh_seconds: 0.2}\n"
        "executions: {shutdown_grace_seconds: 0.2}\n"
        "sensors:\n"
        "  restart_initial_seconds: 0.05\n"
        "  restart_max_seconds: 0.2\n"
        "  stop_grace_seconds: 2\n"
        "  overrides:\n"
        "    sensor_demo.Ticker: {poll_interval: 0.2}\n" + extra
    )
    return config


@contextlib.asynccontextmanager
async def sensors_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: str = "", *, packs: bool = True
) -> AsyncIterator[tuple[Engine, SensorContainer]]:
    monkeypatch.setenv("SENSOR_DEMO_DIR", str(tmp_path))
    settings = load_settings(_config(tmp_path, extra, packs=packs))
    async with open_engine(settings) as engine, run_sensors(engine, settings) as container:
        assert container is not None
        yield engine, container


def _status(container: SensorContainer, ref: str) -> Any:
    return next(s for s in container.statuses() if s.ref == ref)


async def _running_pid(container: SensorContainer, ref: str, not_pid: int | None = None) -> int:
    def ready() -> bool:
        status = _status(container, ref)
        return status.state is SensorState.RUNNING and status.pid not in (None, not_pid)

    await poll_until(ready, WAIT)
    pid = _status(container, ref).pid
    assert pid is not None
    return int(pid)


async def _instances(engine: Engine, trigger: str, at_least: int) -> list[Any]:
    async def enough() -> list[Any]:
        while True:
            found = await engine.store.trigger_instances.list(trigger=trigger, limit=200)
            if len(found) >= at_least:
                return found
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(enough(), WAIT)


async def test_polling_sensor_dispatches_into_rules_and_uses_the_datastore(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with sensors_running(tmp_path, monkeypatch) as (engine, container):
        found = await _instances(engine, "sensor_demo.tick", 3)
        counts = sorted(i.payload["count"] for i in found)
        assert counts[:3] == [1, 2, 3]
        assert {i.source for i in found} == {"sensor:sensor_demo.Ticker"}
        # dispatch(trace_tag=…): every tick joins the one trace tagged "ticks", as in st2.
        assert {(i.trace.tag if i.trace else None) for i in found} == {"ticks"}
        assert len({i.trace.id for i in found if i.trace}) == 1
        # local=True keys live under "<pack>.<ClassName>:", as in st2.
        pair = await engine.kv.get("sensor_demo.Ticker:count")
        assert pair is not None and int(pair.value) >= 3

        async def executions() -> int:
            query = ExecutionQuery(action_ref="core.noop", statuses=[ExecutionStatus.SUCCEEDED])
            return await engine.store.executions.count(query)

        async def three_runs() -> None:
            while await executions() < 3:
                await asyncio.sleep(0.05)

        await asyncio.wait_for(three_runs(), WAIT)
        statuses = {s.ref: s.state for s in container.statuses()}
        assert statuses == {
            "sensor_demo.Ticker": SensorState.RUNNING,
            "sensor_demo.Watcher": SensorState.RUNNING,
            "sensor_demo.Crasher": SensorState.DISABLED,
        }


async def test_a_sensor_storing_an_integer_keeps_running_as_in_st2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hello_st2's sensor stores its count with ``set_value(name, 2)``: st2's datastore service
    stores ``str(value)``, and so does Squall (it refused the int, and the sensor restarted)."""
    counter = FIXTURES / "sensor_counter" / "counter_demo"
    extra = f"packs: {{paths: ['{counter}']}}\n"
    async with sensors_running(tmp_path, monkeypatch, extra, packs=False) as (engine, container):
        # Count n is dispatched before n is stored: the 5th says 4 was read back.
        found = await _instances(engine, "counter_demo.counted", 5)
        pair = await engine.kv.get("counter_demo.Counter:counter_demo.count")
        restarts = _status(container, "counter_demo.Counter").restarts
    ordered = sorted(found, key=lambda i: i.payload["count"])
    assert [i.payload["count"] for i in ordered][:4] == [1, 2, 3, 4]
    assert [i.payload["stored_as"] for i in ordered][:4] == ["int", "str", "str", "str"]
    assert pair is not None and int(pair.value) >= 4
    assert restarts == 0


async def test_killed_sensor_is_restarted_and_spawn_exit_triggers_emitted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with sensors_running(tmp_path, monkeypatch) as (engine, container):
        first = await _running_pid(container, "sensor_demo.Ticker")
        restarts = (
            REGISTRY.get_sample_value(
                "squall_sensor_restarts_total", {"sensor": "sensor_demo.Ticker"}
            )
            or 0.0
        )
        os.kill(first, signal.SIGKILL)
        second = await _running_pid(container, "sensor_demo.Ticker", not_pid=first)
        assert _status(container, "sensor_demo.Ticker").restarts == 1
        assert (
            REGISTRY.get_sample_value(
                "squall_sensor_restarts_total", {"sensor": "sensor_demo.Ticker"}
            )
            == restarts + 1
        )

        async def tick_from_second() -> None:
            while True:
                ticks = await engine.store.trigger_instances.list(trigger="sensor_demo.tick")
                if second in {i.payload["pid"] for i in ticks}:
                    return
                await asyncio.sleep(0.05)

        await asyncio.wait_for(tick_from_second(), WAIT)
        spawns = await _instances(engine, "core.st2.sensor.process_spawn", 3)
        pids = {i.payload["object"]["pid"] for i in spawns if i.payload["object"]["id"] ==
                "sensor_demo.Ticker"}  # fmt: skip
        assert {first, second} <= pids
        exits = await _instances(engine, "core.st2.sensor.process_exit", 1)
        assert exits[0].payload["object"] == {
            "id": "sensor_demo.Ticker",
            "timestamp": exits[0].payload["object"]["timestamp"],
            "exit_code": -9,
        }
        snapshot = read_snapshot(tmp_path / "var" / "sensors.json")
        assert snapshot.writer_alive
        assert snapshot.sensors["sensor_demo.Ticker"].pid == second


async def test_crashing_sensor_backs_off_then_gives_up_and_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = "    sensor_demo.Crasher: {enabled: true}\n  max_failures: 3\n"
    async with sensors_running(tmp_path, monkeypatch, extra) as (engine, container):
        await poll_until(
            lambda: _status(container, "sensor_demo.Crasher").state is SensorState.FAILED, WAIT
        )
        status = _status(container, "sensor_demo.Crasher")
        assert status.restarts == 2
        assert status.last_error == "RuntimeError: cannot reach the thing this sensor watches"
        assert [s.ref for s in container.failed()] == ["sensor_demo.Crasher"]
        app = build_web_app(engine, sensors=container)
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/readyz")
            body = await response.json()
        assert response.status == 200
        assert body["sensors"]["failed"] == [
            {"ref": "sensor_demo.Crasher", "last_error": status.last_error}
        ]


async def test_rule_changes_reach_add_and_remove_trigger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = tmp_path / "watcher-calls"

    def recorded() -> list[dict[str, Any]]:
        if not calls.exists():
            return []
        return [json.loads(line) for line in calls.read_text().splitlines()]

    async with sensors_running(tmp_path, monkeypatch) as (engine, container):
        await _running_pid(container, "sensor_demo.Watcher")
        assert recorded() == []
        # `squall rule enable`: stored, picked up by serve's refresh loop.
        await engine.store.rule_states.set("sensor_demo.on_watched", True, "test")
        await poll_until(lambda: len(recorded()) == 1, WAIT)
        (added,) = recorded()
        assert added["op"] == "add"
        trigger = added["trigger"]
        assert trigger["type"] == "sensor_demo.watched"
        assert trigger["parameters"] == {"path": "/srv/data"}
        assert trigger["pack"] == "sensor_demo"
        # The sensor dispatched with that trigger's ref: the instance has its parameters, so
        # the rule with those parameters fires.
        (instance,) = await _instances(engine, "sensor_demo.watched", 1)
        assert instance.payload == {"seen": {"path": "/srv/data"}}
        assert instance.trigger_parameters == {"path": "/srv/data"}
        await engine.store.rule_states.set("sensor_demo.on_watched", False, "test")
        await poll_until(lambda: len(recorded()) == 2, WAIT)
        assert recorded()[1] == {"op": "remove", "trigger": trigger}


async def test_content_reload_of_rules_reaches_the_sensor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reload (bot/reload.py) swaps the rule set's rules: changed trigger parameters become
    remove_trigger + add_trigger, as st2 does for a rule updated with new parameters."""
    calls = tmp_path / "watcher-calls"

    def recorded() -> list[tuple[str, Any]]:
        if not calls.exists():
            return []
        lines = [json.loads(line) for line in calls.read_text().splitlines()]
        return [(c["op"], c["trigger"]["parameters"]) for c in lines]

    async with sensors_running(tmp_path, monkeypatch) as (engine, container):
        await _running_pid(container, "sensor_demo.Watcher")
        rule = engine.content.index.get_rule("sensor_demo.on_watched")
        moved = dataclasses.replace(
            rule,
            enabled=True,
            trigger=dataclasses.replace(rule.trigger, parameters={"path": "/srv/other"}),
        )
        others = [r for r in engine.rules.all() if r.ref != rule.ref]
        engine.rules.replace_rules([*others, dataclasses.replace(rule, enabled=True)])
        await poll_until(lambda: recorded() == [("add", {"path": "/srv/data"})], WAIT)
        engine.rules.replace_rules([*others, moved])
        await poll_until(
            lambda: (
                recorded()[1:]
                == [("remove", {"path": "/srv/data"}), ("add", {"path": "/srv/other"})]
            ),
            WAIT,
        )


async def test_content_reload_starts_stops_and_restarts_sensors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = tmp_path / "packs" / "sensor_demo"
    shutil.copytree(PACK, pack)
    extra = f"packs:\n  paths: ['{pack}']\n"
    async with sensors_running(tmp_path, monkeypatch, extra, packs=False) as (engine, container):
        reloads = ContentReloads(engine)
        reloads.after_apply.append(functools.partial(reload_sensors, engine, container))
        ticker = await _running_pid(container, "sensor_demo.Ticker")
        watcher = await _running_pid(container, "sensor_demo.Watcher")
        (pack / "sensors" / "ticker.yaml").unlink()
        (pack / "rules" / "on_tick.yaml").unlink()  # its trigger type went with the sensor
        crasher = pack / "sensors" / "crasher.yaml"
        crasher.write_text(crasher.read_text().replace("enabled: false", "enabled: true"))
        watcher_yaml = pack / "sensors" / "watcher.yaml"
        watcher_yaml.write_text(watcher_yaml.read_text() + "poll_interval: 3\n")
        assert await reloads.reload("test") == []
        await wait_dead(ticker)
        assert "sensor_demo.Ticker" not in {s.ref for s in container.statuses()}
        await _running_pid(container, "sensor_demo.Watcher", not_pid=watcher)  # changed
        await poll_until(
            lambda: _status(container, "sensor_demo.Crasher").state is not SensorState.DISABLED,
            WAIT,
        )


async def test_payload_off_schema_is_refused_and_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SENSOR_DEMO_BAD_PAYLOAD", "1")
    async with sensors_running(tmp_path, monkeypatch) as (engine, _):
        message = (
            "payload of sensor_demo.tick does not match its payload_schema at count: "
            "'not a number' is not of type 'integer' (sensors.validate_payload)"
        )
        await poll_until(lambda: message in caplog.text, WAIT)
        assert await engine.store.trigger_instances.list(trigger="sensor_demo.tick") == []


async def test_oversized_message_ends_the_sensor_which_is_restarted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("SENSOR_DEMO_HUGE_PAYLOAD", "1")
    async with sensors_running(tmp_path, monkeypatch) as (engine, container):
        await poll_until(lambda: _status(container, "sensor_demo.Ticker").restarts >= 1, WAIT)
        assert "sensor sensor_demo.Ticker sent a message over 4194304 bytes" in caplog.text
        assert await engine.store.trigger_instances.list(trigger="sensor_demo.tick") == []


async def test_payload_validation_can_be_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENSOR_DEMO_BAD_PAYLOAD", "1")
    async with sensors_running(tmp_path, monkeypatch, "  validate_payload: false\n") as (
        engine,
        _,
    ):
        (instance, *_) = await _instances(engine, "sensor_demo.tick", 1)
        assert instance.payload == {"count": "not a number"}


async def test_sensor_runs_in_its_packs_virtualenv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    venv = tmp_path / "venvs" / "sensor_demo"
    made = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "venv", "--without-pip", str(venv)
    )
    assert await asyncio.wait_for(made.wait(), WAIT) == 0
    extra = f"packs:\n  paths: ['{PACK}']\n  virtualenvs_dir: {tmp_path / 'venvs'}\n"
    async with sensors_running(tmp_path, monkeypatch, extra, packs=False) as (engine, _):
        (tick, *_) = await _instances(engine, "sensor_demo.tick", 1)
    assert tick.payload["prefix"] == str(venv)


async def test_sensors_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(_config(tmp_path, "  enabled: false\n"))
    async with open_engine(settings) as engine, run_sensors(engine, settings) as container:
        assert container is None


async def test_stop_calls_cleanup_and_leaves_no_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with sensors_running(tmp_path, monkeypatch) as (_, container):
        pid = await _running_pid(container, "sensor_demo.Ticker")
        watcher = await _running_pid(container, "sensor_demo.Watcher")
    assert (tmp_path / "ticker-cleanup").read_text() == f"{pid}\n"
    await wait_dead(pid)
    await wait_dead(watcher)
    assert not process_alive(pid)


async def test_stored_disable_stops_a_running_sensor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with sensors_running(tmp_path, monkeypatch) as (engine, container):
        pid = await _running_pid(container, "sensor_demo.Ticker")
        await engine.store.rule_states.set("sensor:sensor_demo.Ticker", False, "test")
        await poll_until(
            lambda: _status(container, "sensor_demo.Ticker").state is SensorState.DISABLED, WAIT
        )
        await wait_dead(pid)
        await engine.store.rule_states.set("sensor:sensor_demo.Ticker", True, "test")
        await _running_pid(container, "sensor_demo.Ticker", not_pid=pid)

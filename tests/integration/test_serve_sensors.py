"""Sensors under a real ``squall serve`` subprocess, driven with the real CLI.

A PollingSensor ticks every second into a rule and executions; killing its process restarts
it; ``squall sensor list`` shows it; hello_st2's sensor runs with the datastore; a sensor that
keeps failing is given up and ``doctor`` says so; ``kill -9`` of serve leaves no sensor behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, ROOT, cli, cli_json, process_alive
from tests.ports import free_port

WAIT = 60.0
HELLO = FIXTURES / "packs" / "good" / "hello-st2"


def _config(tmp_path: Path, port: int, extra: str = "") -> Path:
    config = tmp_path / "squall.yaml"
    config.write_text(
        "store: {url: 'sqlite:///var/squall.db'}\n"
        f"packs: {{paths: ['{FIXTURES / 'sensors'}', '{HELLO}']}}\n"
        f"http: {{port: {port}}}\n"
        "rules: {refresh_seconds: 0.2}\n"
        "executions: {shutdown_grace_seconds: 0}\n"
        "chat: {console: {enabled: false}}\n"
        "sensors: {restart_initial_seconds: 0.05, restart_max_seconds: 0.2, max_failures: 3}\n"
        + extra
    )
    return config


def _wait(condition: Callable[[], Any], what: str, log: Path) -> Any:
    deadline = time.monotonic() + WAIT
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what}:\n{log.read_text()}"
        time.sleep(0.05)
    return value


def _rows(config: Path, sql: str) -> list[tuple[Any, ...]]:
    database = config.parent / "var" / "squall.db"
    if not database.exists():
        return []
    with contextlib.closing(sqlite3.connect(database, timeout=10)) as db:
        return db.execute(sql).fetchall()


@contextlib.contextmanager
def _serve(config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "SENSOR_DEMO_DIR": str(config.parent)}
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--no-console", "--config", str(config)],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def _sensor(capsys: pytest.CaptureFixture[str], config: Path, ref: str) -> dict[str, Any]:
    code, rows = cli_json(capsys, config, "sensor", "list")
    assert code == 0
    return next(row for row in rows if row["ref"] == ref)


def _running(
    capsys: pytest.CaptureFixture[str], config: Path, ref: str, log: Path, not_pid: Any = None
) -> dict[str, Any]:
    def ready() -> dict[str, Any] | None:
        row = _sensor(capsys, config, ref)
        ok = row["status"] == "running" and row["pid"] not in (None, not_pid)
        return row if ok else None

    found: dict[str, Any] = _wait(ready, f"{ref} never ran", log)
    return found


def test_sensors_under_serve(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = _config(tmp_path, free_port())
    log = tmp_path / "serve.log"
    with _serve(config, log) as serve:
        ticker = _running(capsys, config, "sensor_demo.Ticker", log)
        # One tick a second, each an execution of the rule's action.
        _wait(
            lambda: len(_rows(config, "select id from executions where status = 'succeeded'"
                                      " and action_ref = 'core.noop'")) >= 2
            or None,
            "no executions from the sensor's ticks", log,
        )  # fmt: skip
        # hello_st2 loads with its sensor running; its loop uses the datastore.
        _running(capsys, config, "hello_st2.HelloSensor", log)
        event = _wait(
            lambda: _rows(config, "select json_extract(doc, '$.payload') from trigger_instances"
                                  " where trigger = 'hello_st2.event1'"),
            "hello_st2 never dispatched", log,
        )  # fmt: skip
        assert json.loads(event[0][0]) == {"greeting": "Yo, StackStorm!", "count": 1}
        code, pair = cli_json(capsys, config, "key", "get", "hello_st2.HelloSensor:hello_st2.count")
        assert code == 0 and pair["value"] == "1"
        # Killing the sensor's process restarts it.
        os.kill(ticker["pid"], signal.SIGKILL)
        again = _running(capsys, config, "sensor_demo.Ticker", log, not_pid=ticker["pid"])
        assert again["restarts"] == 1
        # A sensor that keeps failing is given up; doctor reports it.
        code, _ = cli_json(capsys, config, "sensor", "enable", "sensor_demo.Crasher")
        assert code == 0
        _wait(lambda: _sensor(capsys, config, "sensor_demo.Crasher")["status"] == "failed",
              "the crashing sensor was never given up", log)  # fmt: skip
        code, report = cli_json(capsys, config, "doctor")
        assert code == 1
        assert (
            "FAIL  sensor sensor_demo.Crasher: given up after restarts: "
            "RuntimeError: cannot reach the thing this sensor watches"
        ) in report["checks"]
        assert "sensor sensor_demo.Ticker" in log.read_text()  # sensor log lines carry the ref
        pids = [
            _sensor(capsys, config, ref)["pid"]
            for ref in ("sensor_demo.Ticker", "sensor_demo.Watcher", "hello_st2.HelloSensor")
        ]
        serve.kill()  # kill -9: no cleanup in serve at all
        serve.wait(timeout=10)
        _wait(lambda: not any(process_alive(pid) for pid in pids),
              "a sensor outlived serve", log)  # fmt: skip
    row = _sensor(capsys, config, "sensor_demo.Ticker")
    assert row["status"] == "not running (no serve)"


def _sensor_processes(parent: int) -> list[int]:
    """Pids of the sensor processes (bootstrap.py in sensor mode) that ``parent`` started."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(fields[1]) == parent and b"sensor" in cmdline and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def test_one_serve_of_a_cluster_runs_the_sensors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Two serves on one store: the holder of the sensors lease runs them; when it dies, the
    other takes over."""
    extra = "cluster: {lease_seconds: 1, renew_seconds: 0.2}\n"
    first_config = _config(tmp_path, free_port(), extra)
    other = tmp_path / "other"
    other.mkdir()
    second_config = other / "squall.yaml"
    second_config.write_text(
        first_config.read_text()
        .replace("sqlite:///var/squall.db", f"sqlite:///{tmp_path}/var/squall.db")
        .replace(f"port: {_port(first_config)}", f"port: {free_port()}")
    )
    log = tmp_path / "serve.log"
    with _serve(first_config, log) as first:
        ticker = _running(capsys, first_config, "sensor_demo.Ticker", log)
        with _serve(second_config, log) as second:
            _wait(lambda: (tmp_path / "var" / "sensors.json").exists(), "no status", log)
            time.sleep(1.5)  # longer than a lease: the second serve had every chance to start
            assert _sensor_processes(second.pid) == []
            assert len(_sensor_processes(first.pid)) == 3
            first.kill()
            first.wait(timeout=10)
            _wait(lambda: len(_sensor_processes(second.pid)) == 3, "no takeover", log)
            assert not process_alive(ticker["pid"])


def _port(config: Path) -> int:
    return int(config.read_text().split("http: {port: ", 1)[1].split("}", 1)[0])


def test_sensor_run_prints_dispatches(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, free_port())
    code, out, err = cli(capsys, config, "sensor", "run", "sensor_demo.Ticker", "--count", "2",
                         "--seconds", "30")  # fmt: skip
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [(x["trigger"], x["payload"]["count"]) for x in lines] == [
        ("sensor_demo.tick", 1),
        ("sensor_demo.tick", 2),
    ]
    assert {x["instance_id"] for x in lines} == {None}  # printed, not stored
    assert _rows(config, "select id from trigger_instances") == []
    code, out, err = cli(capsys, config, "sensor", "run", "sensor_demo.Ticker", "--count", "1",
                         "--seconds", "30", "--store")  # fmt: skip
    assert code == 0, err
    (line,) = [json.loads(x) for x in out.splitlines()]
    assert line["payload"]["count"] == 3  # the datastore kept the count between runs
    stored = _rows(
        config, "select id, status from trigger_instances where trigger = 'sensor_demo.tick'"
    )
    assert stored == [(line["instance_id"], "pending")]  # for a serve to process


def test_sensor_enable_disable_and_unknown(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = _config(tmp_path, free_port())
    assert _sensor(capsys, config, "sensor_demo.Ticker")["enabled"] is True
    code, out, _ = cli(capsys, config, "sensor", "disable", "sensor_demo.Ticker")
    assert (code, out) == (0, "sensor sensor_demo.Ticker disabled\n")
    assert _sensor(capsys, config, "sensor_demo.Ticker")["enabled"] is False
    assert _sensor(capsys, config, "sensor_demo.Crasher")["enabled"] is False
    code, _, err = cli(capsys, config, "sensor", "enable", "sensor_demo.Nope")
    assert code == 1
    assert "unknown sensor 'sensor_demo.Nope'" in err

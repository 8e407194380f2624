"""One pack sensor in its own process (StackStorm's ``sensor_wrapper.py``).

Talks to Squall over one stream socket, JSON lines both ways:

* Squall → sensor: ``{"op": "start", ...}`` first, then ``add_trigger`` / ``update_trigger`` /
  ``remove_trigger`` (``{"op", "trigger"}``), ``stop``, and answers ``{"id", "result"|"error"}``.
* sensor → Squall: requests ``{"id", "method", "args"}`` (``dispatch`` and the datastore
  methods), each answered before the sensor's call returns.

The sensor runs on the main thread; a reader thread handles Squall's messages. When Squall goes
away (its end of the socket closes, or the kernel's parent-death signal fires) the process exits:
a ``kill -9`` of ``squall serve`` leaves no sensor behind.
"""

from __future__ import annotations

import ctypes
import importlib
import importlib.util
import json
import logging
import os
import queue
import signal
import socket
import sys
import threading
import traceback
from typing import Any, NoReturn

from .sensor_service import SensorService

PR_SET_PDEATHSIG = 1
EXIT_LOAD_FAILED = 3


class SquallGone(Exception):
    """The channel to Squall closed."""


class Channel:
    def __init__(self, fd: int) -> None:
        self._sock = socket.socket(fileno=fd)
        self._reader = self._sock.makefile("rb")
        self._write_lock = threading.Lock()
        self._pending: dict[int, tuple[threading.Event, list[Any]]] = {}
        self._next_id = 0
        self._id_lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        with self._write_lock:
            self._sock.sendall(data)

    def receive(self) -> dict[str, Any]:
        line = self._reader.readline()
        if not line:
            raise SquallGone()
        message: dict[str, Any] = json.loads(line)
        return message

    def request(self, method: str, args: dict[str, Any]) -> Any:
        """Send a request and block until Squall answers it (from the reader thread)."""
        with self._id_lock:
            self._next_id += 1
            request_id = self._next_id
        done = threading.Event()
        slot: list[Any] = []
        self._pending[request_id] = (done, slot)
        self.send({"id": request_id, "method": method, "args": args})
        done.wait()
        answer = slot[0]
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer.get("result")

    def answered(self, message: dict[str, Any]) -> None:
        waiter = self._pending.pop(int(message["id"]), None)
        if waiter is not None:
            waiter[1].append(message)
            waiter[0].set()


def main(fd: int) -> NoReturn:
    _die_with_parent()
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    channel = Channel(fd)
    try:
        start = channel.receive()
        sensor = _instantiate(start, channel)
    except SquallGone:
        os._exit(0)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(EXIT_LOAD_FAILED)
    gate = TriggerGate(sensor)
    reader = threading.Thread(target=_read_forever, args=(channel, gate), daemon=True)
    reader.start()
    code = 0
    try:
        sensor.setup()
        gate.open([{"op": "add_trigger", "trigger": t} for t in start.get("triggers", [])])
        channel.send({"event": "running"})
        sensor.run()
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stderr.flush()
    os._exit(code)


def _instantiate(start: dict[str, Any], channel: Channel) -> Any:
    os.chdir(start["pack_path"])
    sys.path[:0] = start["lib_paths"]
    entry = start["entry_point"]
    sys.path.append(os.path.dirname(entry))
    sys.argv = [entry]
    base = importlib.import_module("st2reactor.sensor.base")
    module = _load_module(entry)
    cls = getattr(module, start["class_name"], None)
    if not isinstance(cls, type):
        raise ImportError(f'{entry} defines no class "{start["class_name"]}" (class_name)')
    service = SensorService(channel.request, start["pack"], start["class_name"])
    if issubclass(cls, base.PollingSensor) and start["poll_interval"] is not None:
        return cls(
            sensor_service=service, config=start["config"], poll_interval=start["poll_interval"]
        )
    return cls(sensor_service=service, config=start["config"])


def _load_module(path: str) -> Any:
    name = os.path.splitext(os.path.basename(path))[0]
    if name in sys.modules:  # a sensors/time.py must not replace the real time module
        name = f"_squall_sensor_{name}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class TriggerGate:
    """Trigger calls run on a thread of their own, after ``setup()`` (as in st2).

    Not on the reader thread: a sensor may dispatch from ``add_trigger``, and only the reader
    thread can deliver the answer it waits for.
    """

    def __init__(self, sensor: Any) -> None:
        self.sensor = sensor
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue()

    def call(self, message: dict[str, Any]) -> None:
        self._queue.put(message)

    def open(self, first: list[dict[str, Any]]) -> None:
        """Start calling: ``first``, then whatever arrived meanwhile and later."""
        worker = threading.Thread(target=self._work, args=(first,), daemon=True)
        worker.start()

    def _work(self, first: list[dict[str, Any]]) -> None:
        for message in first:
            _trigger_call(self.sensor, message)
        while True:
            _trigger_call(self.sensor, self._queue.get())


def _trigger_call(sensor: Any, message: dict[str, Any]) -> None:
    try:
        getattr(sensor, message["op"])(message["trigger"])
    except Exception:
        traceback.print_exc()


def _read_forever(channel: Channel, gate: TriggerGate) -> None:
    try:
        while True:
            message = channel.receive()
            if "id" in message and "method" not in message:
                channel.answered(message)
            else:
                _control(message, gate)
    except SquallGone:
        os._exit(0)  # Squall is gone: so is its sensor
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)


_TRIGGER_OPS = ("add_trigger", "update_trigger", "remove_trigger")


def _control(message: dict[str, Any], gate: TriggerGate) -> None:
    op = message.get("op")
    if op in _TRIGGER_OPS:
        gate.call(message)
    elif op == "stop":
        try:
            gate.sensor.cleanup()
        except Exception:
            traceback.print_exc()
        sys.stderr.flush()
        os._exit(0)


def _die_with_parent() -> None:
    """SIGKILL from the kernel when the parent dies (Linux), like st2's ``on_parent_exit``."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the closed channel still ends the process

"""One sensor process: spawn it, answer its requests, relay its log, stop it politely.

The child is ``python_host/bootstrap.py sensor <fd>`` in the pack's interpreter (the same
bootstrap and st2 shim as python actions); the wire format is in ``python_host/sensor_child.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.runners.pack_python import PackPython
from core.runners.python import SHIM_DIR
from core.runners.python_host.client import host_argv
from core.sensors.specs import SensorSpec
from core.sensors.triggers import TriggerChange, TriggerDict

logger = logging.getLogger(__name__)

# One message: a trigger payload or a datastore value; bounded so a sensor cannot make Squall
# buffer without limit.
MAX_LINE = 4 * 1024 * 1024
_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING,
           "ERROR": logging.ERROR, "CRITICAL": logging.CRITICAL}  # fmt: skip
_TAIL = 20

# (method, args) of one request from the sensor → its result (raise to answer an error).
RequestHandler = Callable[[str, Mapping[str, Any]], Awaitable[Any]]


@dataclass(frozen=True)
class SensorLaunch:
    """Everything one start of a sensor needs."""

    spec: SensorSpec
    python: PackPython
    config: Mapping[str, Any]
    # None: the class's own default (PollingSensor's is 5 s), as st2 leaves it.
    poll_interval: float | None
    triggers: tuple[TriggerDict, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)


class SensorProcess:
    def __init__(self, launch: SensorLaunch, handle: RequestHandler) -> None:
        self.launch = launch
        self._handle = handle
        self.pid: int | None = None
        self.running = asyncio.Event()  # setup() done, run() called
        self.log_tail: deque[str] = deque(maxlen=_TAIL)
        self._proc: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._write_lock = asyncio.Lock()
        self._log_task: asyncio.Future[None] | None = None
        self._closed = False

    @property
    def ref(self) -> str:
        return self.launch.spec.ref

    async def start(self) -> int:
        """Spawn the process and send it ``start``; returns its pid (also its group id)."""
        ours, theirs = socket.socketpair()
        try:
            python = self.launch.python
            argv = [*host_argv(python.interpreter.python, python.interpreter.fallback_paths)]
            self._proc = await asyncio.create_subprocess_exec(
                *argv, "sensor", str(theirs.fileno()),
                pass_fds=(theirs.fileno(),), env=self._env(), cwd=str(self.launch.spec.pack_path),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        finally:
            theirs.close()
        reader, self._writer = await asyncio.open_unix_connection(sock=ours, limit=MAX_LINE)
        self.pid = self._proc.pid
        self._log_task = asyncio.ensure_future(self._read_log())
        self._track(self._read_channel(reader))
        await self._send({"op": "start", **self._start_message()})
        return self.pid

    async def wait(self) -> int:
        """The exit code, once the process exited; then the channel is closed."""
        assert self._proc is not None
        code = await self._proc.wait()
        if self._log_task is not None:
            await asyncio.wait({self._log_task}, timeout=2.0)  # its last log lines
        self._close()
        return code

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in [*self._tasks, *([self._log_task] if self._log_task else [])]:
            task.cancel()
        if self._writer is not None:
            self._writer.close()

    async def change(self, change: TriggerChange) -> None:
        await self._send({"op": change.op, "trigger": change.trigger})

    async def stop(self, grace: float) -> int:
        """``cleanup()`` first, then SIGTERM, then SIGKILL, each after ``grace`` seconds."""
        proc = self._proc
        if proc is None:
            return 0
        if proc.returncode is None:
            with contextlib.suppress(OSError, ConnectionError):
                await self._send({"op": "stop"})
            for sig in (signal.SIGTERM, signal.SIGKILL):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(proc.wait()), grace)
                    break
                _signal_group(proc.pid, sig)
        return await self.wait()

    def last_error(self) -> str:
        """The last line the sensor wrote that looks like an error (a traceback's last line)."""
        for line in reversed(self.log_tail):
            if line.startswith(("ERROR", "CRITICAL")) or "Error" in line.split(":", 1)[0]:
                return line
        return self.log_tail[-1] if self.log_tail else ""

    # -- internals ------------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.launch.env)
        env["PYTHONPATH"] = os.pathsep.join([*self.launch.python.lib_paths, SHIM_DIR])
        env["PYTHONUNBUFFERED"] = "1"  # a sensor's print() reaches the log when it happens
        return env

    def _start_message(self) -> dict[str, Any]:
        spec = self.launch.spec
        return {
            "pack": spec.pack,
            "pack_path": str(spec.pack_path),
            "class_name": spec.class_name,
            "entry_point": str(spec.entry_point),
            "config": dict(self.launch.config),
            "poll_interval": self.launch.poll_interval,
            "lib_paths": list(self.launch.python.lib_paths),
            "triggers": list(self.launch.triggers),
        }

    def _track(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, message: Mapping[str, Any]) -> None:
        if self._writer is None or self._closed:
            return
        async with self._write_lock:
            self._writer.write(json.dumps(message, separators=(",", ":")).encode() + b"\n")
            await self._writer.drain()

    async def _read_log(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        while line := await self._proc.stdout.readline():
            text = line.decode("utf-8", "replace").rstrip()
            if text:
                self.log_tail.append(text)
                level = _LEVELS.get(text.split(" ", 1)[0], logging.WARNING)
                logger.log(level, "sensor %s: %s", self.ref, text)

    async def _read_channel(self, reader: asyncio.StreamReader) -> None:
        try:
            await self._read_messages(reader)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the process is gone; wait() reports how it ended
        except ValueError:  # readline() raises it for a line over the limit
            # The sensor would wait forever for an answer: end it, the supervisor restarts it.
            logger.error("sensor %s sent a message over %d bytes; killing it", self.ref, MAX_LINE)
            if self.pid is not None:
                _signal_group(self.pid, signal.SIGKILL)

    async def _read_messages(self, reader: asyncio.StreamReader) -> None:
        while True:
            line = await reader.readline()
            if not line:
                return
            try:
                message = json.loads(line)
            except ValueError:
                logger.error("sensor %s sent a malformed message", self.ref)
                continue
            if message.get("event") == "running":
                self.running.set()
            elif "method" in message:
                self._track(self._answer(message))

    async def _answer(self, message: Mapping[str, Any]) -> None:
        request_id = message.get("id")
        args = message.get("args")
        try:
            result = await self._handle(
                str(message["method"]), args if isinstance(args, dict) else {}
            )
            answer: dict[str, Any] = {"id": request_id, "result": result}
        except Exception as exc:
            answer = {"id": request_id, "error": str(exc)}
        with contextlib.suppress(OSError, ConnectionError):
            await self._send(answer)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)

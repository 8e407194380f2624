"""The ``python-script`` runner: StackStorm Action classes in a warmed, forking interpreter.

StackStorm starts a fresh interpreter per execution (0.2-0.3 s of startup and imports). Here a
long-lived fork server (``python_host/server.py``) pre-imports the usual modules once and forks
a child per execution; if it cannot run, each execution gets a fresh interpreter instead, with
the same request/result protocol (``python_host/protocol.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.kv.service import KeyValueService
from core.models import ExecutionStatus
from core.runners.base import RunContext, RunnerResult
from core.runners.pack_python import Interpreter, PackPython, PackPythonSettings, pack_python
from core.runners.python_datastore import DatastoreCaller, DatastoreChannel, DatastoreHandler
from core.runners.python_host.capture import Capture, quiet
from core.runners.python_host.client import (
    ActionProcess,
    HostDied,
    HostUnavailable,
    kill_group,
    spawn_once,
)
from core.runners.python_host.outcome import Ending, Finished, build_result
from core.runners.python_host.protocol import Request
from core.runners.python_servers import IDLE_SECONDS, ForkServerPool
from core.runners.types import PYTHON_SCRIPT

log = logging.getLogger(__name__)

SHIM_DIR = str(Path(__file__).with_name("python_shim"))
# Matches MongoDB's document limit: a bigger result could not be stored anyway.
MAX_RESULT_BYTES = 16 * 1024 * 1024
# After a kill, how long to keep reading pipes that a process outside the group may hold.
DRAIN_TIMEOUT = 2.0
# After SIGKILL, how long to wait for the exit status before giving up on it.
KILL_WAIT = 10.0


class PythonScriptRunner:
    runner_type = PYTHON_SCRIPT

    def __init__(
        self,
        *,
        use_fork_server: bool = True,
        python: str = sys.executable,
        max_result_bytes: int = MAX_RESULT_BYTES,
        datastore: KeyValueService | None = None,
        packs: PackPythonSettings | None = None,
        venv_idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self._python = python
        self._max_result_bytes = max_result_bytes
        self._datastore = datastore
        self._packs = packs or PackPythonSettings()
        self._servers = ForkServerPool(enabled=use_fork_server, idle_seconds=venv_idle_seconds)

    @property
    def fork_server_pid(self) -> int | None:
        """Squall's own fork server's pid, if any (for operators and tests)."""
        return self._servers.pid(Interpreter(self._python))

    def pack_python(self, ctx: RunContext) -> PackPython:
        found = pack_python(self._packs, ctx.action.pack, ctx.action.pack_path)
        if found.interpreter.venv is None:  # Squall's own environment
            return PackPython(Interpreter(self._python), found.lib_paths)
        return found

    def server_pid(self, interpreter: Interpreter) -> int | None:
        return self._servers.pid(interpreter)

    async def run(self, ctx: RunContext) -> RunnerResult:
        entry = ctx.action.entry_point_path
        if entry is None:
            return _failed(f'Action "{ctx.action.ref}" is missing entry_point attribute')
        if ctx.cancel.is_set():
            return RunnerResult(ExecutionStatus.CANCELED, _empty_body())
        channel = self._datastore_channel(ctx)
        extra_fds = () if channel is None else (channel.child_fd,)
        where = self.pack_python(ctx)
        try:
            request = build_request(ctx, entry, where.lib_paths, datastore=channel is not None)
            encoded = json.dumps(request, default=str).encode()
            capture, process = await self._start(
                where.interpreter, encoded, ctx.output_limit_bytes, extra_fds
            )
            if channel is not None:
                channel.release_child_fd()
            try:
                ending, returncode = await self._supervise(ctx, process, capture.drained)
            finally:
                await capture.finish(DRAIN_TIMEOUT)
        finally:
            if channel is not None:
                await channel.close()
        finished = Finished(
            ending=ending,
            returncode=returncode,
            stdout=capture.stdout.output.text(),
            stderr=capture.stderr.text(),
            payload=capture.stdout.payload,
            result_truncated=capture.stdout.result_truncated,
            timeout=ctx.timeout,
        )
        return build_result(finished, self._max_result_bytes)

    async def close(self) -> None:
        await self._servers.close()

    def _datastore_channel(self, ctx: RunContext) -> DatastoreChannel | None:
        if self._datastore is None:
            return None
        return DatastoreChannel(DatastoreHandler(self._datastore, DatastoreCaller.of(ctx.context)))

    async def _start(
        self,
        interpreter: Interpreter,
        request: bytes,
        output_limit: int,
        extra_fds: tuple[int, ...],
    ) -> tuple[Capture, ActionProcess]:
        """``extra_fds`` (the datastore socket) follow stdio in the child: fd 3."""
        server = await self._servers.get(interpreter)
        if server is not None:
            capture = Capture(request, output_limit, self._max_result_bytes)
            try:
                return capture, await server.launch((*capture.child_fds, *extra_fds))
            except HostUnavailable as e:
                log.warning("python-script: fork server refused a run (%s); spawning", e)
                await capture.abort()
            except BaseException:
                await capture.abort()
                raise
            finally:
                capture.release_child_fds()
        capture = Capture(request, output_limit, self._max_result_bytes)
        try:
            fds = (*capture.child_fds, *extra_fds)
            return capture, await spawn_once(interpreter.python, fds, interpreter.fallback_paths)
        except BaseException:
            await capture.abort()
            raise
        finally:
            capture.release_child_fds()

    async def _supervise(
        self, ctx: RunContext, process: ActionProcess, drained: asyncio.Future[Any]
    ) -> tuple[Ending, int | None]:
        """Wait for exit, timeout or cancel; whatever happens, leave no process behind."""
        try:
            if ctx.on_process_start is not None:
                await ctx.on_process_start(process.pid)
            ending = await _wait(ctx, process.returncode, drained)
            if ending is not Ending.EXITED:
                kill_group(process.pid)
            return ending, await _returncode(process)
        except HostDied:
            kill_group(process.pid)  # orphaned by the server: nobody can report its exit
            return Ending.HOST_DIED, None
        except BaseException:
            if not process.returncode.done():
                kill_group(process.pid)
                with contextlib.suppress(BaseException):
                    await asyncio.wait_for(asyncio.shield(process.returncode), KILL_WAIT)
            raise


async def _wait(
    ctx: RunContext, returncode: asyncio.Future[int], drained: asyncio.Future[Any]
) -> Ending:
    """Finished means exited *and* pipes closed: as in st2, a background job still holding
    stdout keeps the action running, and the timeout bounds that."""
    # shield: giving up on this waiter must not cancel the exit status or the pipe readers.
    finished = quiet(asyncio.gather(asyncio.shield(returncode), asyncio.shield(drained)))
    canceled = asyncio.ensure_future(ctx.cancel.wait())
    either: set[asyncio.Future[Any]] = {finished, canceled}
    try:
        await asyncio.wait(either, timeout=ctx.timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        canceled.cancel()
        finished.cancel()
    if finished.done() and not finished.cancelled():
        return Ending.EXITED  # HostDied, if that is how it ended, is read from ``returncode``
    return Ending.CANCELED if ctx.cancel.is_set() else Ending.TIMEOUT


async def _returncode(process: ActionProcess) -> int | None:
    try:
        return await asyncio.wait_for(asyncio.shield(process.returncode), KILL_WAIT)
    except TimeoutError:
        log.error("python-script: pid %d did not exit after SIGKILL", process.pid)
        return None


def build_request(
    ctx: RunContext, entry: Path, lib_paths: tuple[str, ...], *, datastore: bool = False
) -> Request:
    pack_path = str(ctx.action.pack_path)
    return Request(
        entry_point=str(entry),
        pack=ctx.action.pack,
        pack_path=pack_path,
        lib_paths=list(lib_paths),
        parameters=dict(ctx.action_parameters),
        config=dict(ctx.pack_config),
        env=action_env(ctx, lib_paths),
        # st2 runs actions in the action runner's working directory; so do we.
        cwd=os.getcwd(),
        log_level=_log_level(ctx.runner_parameters),
        datastore=datastore,
    )


def _log_level(runner_parameters: Mapping[str, Any]) -> str:
    if runner_parameters.get("debug"):
        return "DEBUG"
    return str(runner_parameters.get("log_level") or "DEBUG")


def action_env(ctx: RunContext, lib_paths: tuple[str, ...]) -> dict[str, str]:
    """Squall's environment + runner ``env`` (minus PYTHONPATH, as st2) + ``ST2_ACTION_*``."""
    env = dict(os.environ)
    user_env: dict[str, Any] = dict(ctx.runner_parameters.get("env") or {})
    env.update({k: str(v) for k, v in user_env.items() if k.lower() != "pythonpath"})
    env.update(ctx.env)
    # What the action's own Python subprocesses should see: its pack libs and the st2 shim.
    env["PYTHONPATH"] = os.pathsep.join([*lib_paths, SHIM_DIR])
    return env


def _empty_body() -> dict[str, Any]:
    return {"result": None, "stdout": "", "stderr": "", "exit_code": None}


def _failed(error: str) -> RunnerResult:
    return RunnerResult(ExecutionStatus.FAILED, {**_empty_body(), "error": error})

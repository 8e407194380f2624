"""One warmed fork server per Python environment: Squall's own, and one per pack virtualenv.

Each is started on first use. A pack venv's server stops after ``idle_seconds`` without runs
(a pack used once a day should not keep an interpreter resident); Squall's own stays up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from core.runners.pack_python import Interpreter
from core.runners.python_host.client import ForkServer, HostUnavailable

log = logging.getLogger(__name__)

# After a fork server failed to start, use fresh interpreters for this long before retrying.
RETRY_AFTER = 30.0
IDLE_SECONDS = 600.0


@dataclass
class _Slot:
    server: ForkServer | None = None
    retry_at: float = 0.0
    last_used: float = 0.0


class ForkServerPool:
    def __init__(self, *, enabled: bool = True, idle_seconds: float = IDLE_SECONDS) -> None:
        self._enabled = enabled
        self._idle_seconds = idle_seconds
        self._slots: dict[Interpreter, _Slot] = {}
        self._lock = asyncio.Lock()
        self._reaper: asyncio.Task[None] | None = None

    def pid(self, interpreter: Interpreter) -> int | None:
        """The running server's pid for ``interpreter``, if any (for operators and tests)."""
        slot = self._slots.get(interpreter)
        server = slot.server if slot else None
        return server.pid if server is not None and server.alive else None

    async def get(self, interpreter: Interpreter) -> ForkServer | None:
        """The running server for ``interpreter``, (re)started lazily; None: spawn instead."""
        if not self._enabled:
            return None
        async with self._lock:
            loop = asyncio.get_running_loop()
            slot = self._slots.setdefault(interpreter, _Slot())
            slot.last_used = loop.time()
            if slot.server is not None and slot.server.alive:
                return slot.server
            if loop.time() < slot.retry_at:
                return None
            if slot.server is not None:  # it died: reap it before replacing it
                await slot.server.close()
                slot.server = None
            server = ForkServer(interpreter.python, fallback_paths=interpreter.fallback_paths)
            try:
                await server.start()
            except HostUnavailable as e:
                log.warning("python-script: %s; using a fresh interpreter per run", e)
                slot.retry_at = loop.time() + RETRY_AFTER
                return None
            slot.server = server
            if interpreter.venv is not None:
                self._start_reaper()
            return server

    def _start_reaper(self) -> None:
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.create_task(self._reap_idle())

    async def _reap_idle(self) -> None:
        interval = max(0.05, self._idle_seconds / 4)
        while True:
            await asyncio.sleep(interval)
            async with self._lock:
                now = asyncio.get_running_loop().time()
                for interpreter, slot in self._slots.items():
                    server = slot.server
                    if interpreter.venv is None or server is None or server.busy:
                        continue
                    if now - slot.last_used >= self._idle_seconds:
                        log.info("python-script: stopping the idle fork server of %s", interpreter)
                        slot.server = None
                        await server.close()

    async def close(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        async with self._lock:
            for slot in self._slots.values():
                if slot.server is not None:
                    await slot.server.close()
                    slot.server = None

"""What the controllers that drive child executions share (action-chain, orquesta): the
service and its store, one lock per parent execution, and the steps they run in the
background (logged when they fail, waited for on close)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, ClassVar, Final, TypedDict, Unpack

from core.executions.owner import OwnerId
from core.executions.service import ExecutionService
from core.kv.service import KeyValueService

# What a child execution inherits from its parent's context: who, where in chat, and its trace
# (st2 files a chain's or a workflow's children under the trace of the run that started them).
INHERITED_CONTEXT: Final = (
    "user",
    "api_user",
    "chat",
    "action_alias_ref",
    "source_channel",
    "trace_context",
)

# Locks of idle parents are dropped past this many (a long-running process meets many).
_LOCKS_MAX = 10_000


class DriverOptions(TypedDict, total=False):
    kv: KeyValueService | None  # the datastore, for templates naming ``st2kv``
    owner: OwnerId | None  # this process (the service's when left out)


class ChildDriver:
    """The common ground of a runner whose executions are driven through their children."""

    # Where a background step's failure is logged, and what it says (each runner its own).
    log: ClassVar[logging.Logger] = logging.getLogger(__name__)
    step_failed: ClassVar[str] = "step failed"

    def __init__(self, service: ExecutionService, **options: Unpack[DriverOptions]) -> None:
        self.service = service
        self.store = service.store
        self.kv = options.get("kv")
        self.owner = options.get("owner") or service.owner
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    def _lock(self, parent_id: str) -> asyncio.Lock:
        """One step of a parent at a time (in this process)."""
        lock = self._locks.get(parent_id)
        if lock is None:
            lock = self._locks[parent_id] = asyncio.Lock()
            if len(self._locks) > _LOCKS_MAX:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
                self._locks[parent_id] = lock
        return lock

    def _spawn(self, work: Awaitable[Any], name: str | None = None) -> asyncio.Task[Any]:
        """Run ``work`` in the background, kept until it ends (and waited for on close)."""
        task: asyncio.Task[Any] = asyncio.create_task(self._guard(work), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _guard(self, work: Awaitable[Any]) -> None:
        try:
            await work
        except Exception:
            self.log.exception(self.step_failed)

    async def close(self) -> None:
        """Wait (bounded) for the steps still running in the background."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=10)

"""The one place an execution's status changes: compare-and-set on the store, then whoever
waits, listens or observes hears of it. The service's state lives here; intake, dispatch and
the public API (core/executions/service.py) build on it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.executions.faults import fault_point
from core.executions.hooks import ActionTokens, Controller, ExecutionObserver
from core.executions.owner import OwnerId
from core.executions.rejected import with_rejected_result
from core.executions.run import RunningExecution
from core.kv.service import KeyValueService
from core.models import Execution, ExecutionStatus
from core.observe import metrics
from core.packs import ContentIndex
from core.policies import PolicyGate
from core.runners.base import Runner, RunnerResult
from core.store import DocumentRejected, Store

logger = logging.getLogger(__name__)

S = ExecutionStatus


CompletionListener = Callable[[Execution], Awaitable[None]]


# Sees every status change of an execution that has a parent (a workflow's task).
ChangeListener = Callable[[Execution], Awaitable[None]]


# A quick synchronous test (or handler) of a status change.
ChangeFilter = Callable[[Execution], bool]


# Writes a workflow task's end (``ended``, from ``current``) with the step it triggers and
# returns it as stored; None when it does not (the service then writes it itself).
ChildFinisher = Callable[[Execution, Execution], Awaitable[Execution | None]]


class ExecutionError(RuntimeError):
    """A request that cannot become an execution (unknown action, disabled, no runner)."""


@dataclass(frozen=True)
class ExecutionOptions:
    max_concurrency: int = 32
    output_limit_bytes: int = 1_048_576
    api_url: str = "http://127.0.0.1:9101/api/v1"
    # How often an idle service looks for executions other processes requested.
    poll_interval: float = 1.0
    heartbeat_interval: float = 2.0


class ExecutionChanges:
    """State shared by the service's parts, and the status changes they all make."""

    policies: PolicyGate  # set by ExecutionService (its retries go through intake)

    def __init__(
        self,
        store: Store,
        index: ContentIndex,
        runners: Mapping[str, Runner],
        options: ExecutionOptions = ExecutionOptions(),
        owner: OwnerId | None = None,
        kv: KeyValueService | None = None,
    ) -> None:
        self.store = store
        self.index = index
        self.runners = runners
        self.options = options
        self.owner = owner or OwnerId.current()
        self.kv = kv
        self._wakeup = asyncio.Event()
        self._slots = asyncio.Semaphore(options.max_concurrency)
        self._running: dict[str, RunningExecution] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiters: dict[str, list[asyncio.Future[Execution]]] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._intake_open = False
        self._listeners: list[tuple[CompletionListener, Callable[[Execution], bool] | None]] = []
        self._change_listeners: list[
            tuple[ChangeListener, ChangeFilter | None, ChangeFilter | None]
        ] = []
        self.observers: list[ExecutionObserver] = []
        self.action_tokens: ActionTokens | None = None
        # Runner types whose executions continue after ``run()`` returns ``running``.
        self.controllers: dict[str, Controller] = {}
        self._listener_tasks: set[asyncio.Task[None]] = set()
        self.child_finisher: ChildFinisher | None = None
        # Whether a task (an execution with a parent) of a runner that runs in memory may skip
        # its stored ``running`` too: its engine writes its end as a CAS on what the store
        # holds (``unstored``). Without it, such tasks keep both writes.
        self.child_in_memory: Callable[[Execution], bool] | None = None
        # Executions whose status in memory was never stored (core.runners.base.runs_in_memory):
        # id → (that status, the status the store still holds, which their next CAS expects).
        self.unstored: dict[str, tuple[ExecutionStatus, ExecutionStatus]] = {}

    @property
    def is_serving(self) -> bool:
        """Whether this process runs executions (``start`` was called and not stopped)."""
        return self._intake_open

    @property
    def running_count(self) -> int:
        return len(self._running)

    def add_completion_listener(
        self, callback: CompletionListener, wants: Callable[[Execution], bool] | None = None
    ) -> None:
        """Call ``callback`` (in its own task) for each execution completed in this process;
        with ``wants``, only for those it says yes to (a quick synchronous test, so the many
        completions a listener has nothing to do with cost no task)."""
        self._listeners.append((callback, wants))

    def add_change_listener(
        self,
        callback: ChangeListener,
        wants: ChangeFilter | None = None,
        at_once: ChangeFilter | None = None,
    ) -> None:
        """Call ``callback`` (in its own task, in order) for each status change of a child
        execution (one with a ``parent``) made in this process; with ``wants``, only for those
        it says yes to (as ``add_completion_listener``: a workflow's task changes status twice,
        and most listeners have nothing to do with most of those changes). ``at_once``, if
        given, is tried first, synchronously: True when it dealt with the change itself (no
        task); it must be quick and must not raise."""
        self._change_listeners.append((callback, wants, at_once))

    async def wait(self, execution_id: str, timeout: float | None = None) -> Execution:
        """Wait until the execution completes.

        Completions in this process resolve at once; the store is re-read every
        ``poll_interval`` too, because another process may be the one running it.
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        future: asyncio.Future[Execution] = loop.create_future()
        self._waiters.setdefault(execution_id, []).append(future)
        try:
            while True:
                current = await self.store.executions.get(execution_id)
                if current is None:
                    raise ExecutionError(f"execution {execution_id} not found")
                if current.is_completed:
                    return current
                step = self.options.poll_interval
                if deadline is not None:
                    step = min(step, deadline - loop.time())
                    if step <= 0:
                        raise TimeoutError(f"execution {execution_id} still {current.status}")
                with contextlib.suppress(TimeoutError):
                    return await asyncio.wait_for(asyncio.shield(future), step)
        finally:
            waiters = self._waiters.get(execution_id, [])
            if future in waiters:
                waiters.remove(future)
            if not waiters:
                self._waiters.pop(execution_id, None)

    async def set_status(
        self, current: Execution, status: ExecutionStatus, **changes: Any
    ) -> Execution | None:
        """Compare-and-set ``current`` to ``status`` (listeners hear of it); None if we lost."""
        return await self.cas(current, status, **changes)

    async def replace(self, current: Execution, new: Execution) -> bool:
        """Write ``new`` over ``current`` if its status did not change meanwhile (for changes
        that are not a transition, e.g. a rerun or a new owner)."""
        won = await self.store.executions.replace(new, expected_status=current.status)
        if won:
            self._observe(new)
        if won and new.status is not current.status:
            self._notify_changes(new)
        return won

    def _notify_waiters(self, execution: Execution) -> None:
        for future in self._waiters.pop(execution.id, []):
            if not future.done():
                future.set_result(execution)

    def _notify_listeners(self, execution: Execution) -> None:
        # Own tasks: a slow or failing listener must never delay or break the execution path.
        for listener, wants in self._listeners:
            if wants is not None and not _wanted(wants, execution):
                continue
            task = asyncio.create_task(self._call_listener(listener, execution))
            self._listener_tasks.add(task)
            task.add_done_callback(self._listener_tasks.discard)

    @staticmethod
    async def _call_listener(listener: CompletionListener, execution: Execution) -> None:
        try:
            await listener(execution)
        except Exception:
            logger.exception("completion listener failed for execution %s", execution.id)

    async def cas(
        self, current: Execution, status: ExecutionStatus, **changes: Any
    ) -> Execution | None:
        """Move ``current`` to ``status`` if nobody else changed it first; None if we lost."""
        new = current.transition(status, **changes)
        expected = current.status
        if (hidden := self.unstored.get(current.id)) is not None and hidden[0] is expected:
            del self.unstored[current.id]  # one try: after it the store holds the truth
            expected = hidden[1]
        try:
            won = await self.store.executions.replace(new, expected_status=expected)
        except DocumentRejected as exc:
            if not new.is_completed:
                raise
            logger.error("execution %s: result refused by the store: %s", current.id, exc)
            new = with_rejected_result(current, new, str(exc))
            won = await self.store.executions.replace(new, expected_status=expected)
        if won:
            self.changed(new)
            return new
        return None

    def changed(self, new: Execution) -> None:
        """Tell everyone of a status change just written (by ``cas``, or by the workflow step
        that wrote a task's end with its own state: ``child_finisher``)."""
        fault_point(f"execution {new.action_ref} {new.status} {new.id}")
        self._observe(new)
        if new.is_completed:
            self._notify_waiters(new)
            self._notify_listeners(new)  # here, not in _notify_waiters: once per CAS winner
            self.policies.on_completed(new)
            metrics.execution_completed(new)
        self._notify_changes(new)

    def _observe_created(self, execution: Execution) -> None:
        for observer in self.observers:
            observer.created(execution)

    def _observe(self, execution: Execution) -> None:
        for observer in self.observers:
            observer.updated(execution)

    def observe_output(self, execution: Execution, output_type: str, text: str) -> None:
        for observer in self.observers:
            observer.output(execution, output_type, text)

    def _notify_changes(self, execution: Execution) -> None:
        if execution.parent is None:
            return
        for listener, wants, at_once in self._change_listeners:
            if wants is not None and not _wanted(wants, execution):
                continue
            if at_once is not None and _handled(at_once, execution):
                continue
            task = asyncio.create_task(self._call_listener(listener, execution))
            self._listener_tasks.add(task)
            task.add_done_callback(self._listener_tasks.discard)

    async def finish(self, current: Execution, outcome: RunnerResult) -> Execution | None:
        """Record a runner's outcome; if someone asked to cancel meanwhile, end as canceled.
        A workflow's task goes to its workflow engine first, which writes the end with the
        step it triggers (one transaction); None from it: written here as any other."""
        if current.parent is not None and self.child_finisher is not None:
            ended = current.transition(outcome.status, result=outcome.result)
            written = await self.child_finisher(current, ended)
            if written is not None:
                return written
        done = await self.cas(current, outcome.status, result=outcome.result)
        if done is not None:
            return done
        latest = await self.store.executions.get(current.id)
        if latest is not None and latest.status is S.CANCELING:
            return await self.cas(latest, S.CANCELED, result=outcome.result)
        return latest


def _wanted(wants: Callable[[Execution], bool], execution: Execution) -> bool:
    try:
        return wants(execution)
    except Exception:  # a broken filter must not cost the listener its call
        logger.exception("listener filter failed for execution %s", execution.id)
        return True


def _handled(at_once: ChangeFilter, execution: Execution) -> bool:
    try:
        return at_once(execution)
    except Exception:  # a bug there must not lose the change: the listener's task gets it
        logger.exception("change handler failed for execution %s", execution.id)
        return False

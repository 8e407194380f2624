"""The execution service: request → (validate, render) → scheduled → running → completed.

Every step is persisted, and every status change is a compare-and-set on the store, so a
second process, a double click or a late runner can never overwrite a decision already made.
Intake goes through the store's claim/lease, so executions requested by another process (e.g.
``squall run --async``) are picked up by whichever ``squall serve`` is running.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from core.executions.api import execution_to_api
from core.executions.faults import fault_point
from core.executions.hooks import ActionTokens, Controller, ExecutionObserver
from core.executions.owner import OwnerId
from core.executions.rejected import with_rejected_result
from core.executions.run import RunningExecution, run_execution
from core.kv.decrypted import DECRYPTED_PARAMETERS, mark_decrypted, recording_decryptions
from core.kv.lookup import kv_context
from core.kv.service import KeyValueService
from core.models import Action, Execution, ExecutionStatus, utcnow
from core.models.trace import TraceContext
from core.observe import logcontext, metrics
from core.packs import ContentIndex
from core.params import ParameterError, resolve_parameters, secret_values
from core.policies import PolicyGate, compile_policies
from core.policies.retry import RetryRequest
from core.runners.base import Runner, RunnerResult
from core.runners.types import RUNNER_TYPES
from core.store import DocumentRejected, Store

logger = logging.getLogger(__name__)

S = ExecutionStatus
LEASE = timedelta(seconds=30)
CANCELED_RESULT = {"message": "Action canceled by user."}
CompletionListener = Callable[[Execution], Awaitable[None]]
# Sees every status change of an execution that has a parent (a workflow's task).
ChangeListener = Callable[[Execution], Awaitable[None]]
# Sees the resolved parameters of a request before it is stored; raises to refuse it.
# ``admit(parameters, secret_names)``: the final values and the names holding a secret.
Admission = Callable[[Mapping[str, Any], Sequence[str]], Awaitable[None]]


def mentions_kv(action: Action, live: Mapping[str, Any]) -> bool:
    """Whether any default or live value names ``st2kv`` (so the datastore must be loaded)."""
    runner = RUNNER_TYPES[action.runner_type]
    defaults = [
        p.get("default") for p in (*runner.parameters.values(), *action.parameters.values())
    ]
    return "st2kv" in json.dumps([defaults, live], default=str)


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


class ExecutionService:
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
        self._listeners: list[CompletionListener] = []
        self._change_listeners: list[ChangeListener] = []
        self.observers: list[ExecutionObserver] = []
        self.action_tokens: ActionTokens | None = None
        # Runner types whose executions continue after ``run()`` returns ``running``.
        self.controllers: dict[str, Controller] = {}
        self._listener_tasks: set[asyncio.Task[None]] = set()
        self.policies = PolicyGate(
            compile_policies(index.policies.values()),
            store,
            self.cas,
            self._request_retry,
            self._wakeup.set,
        )

    @property
    def is_serving(self) -> bool:
        """Whether this process runs executions (``start`` was called and not stopped)."""
        return self._intake_open

    @property
    def running_count(self) -> int:
        return len(self._running)

    def add_completion_listener(self, callback: CompletionListener) -> None:
        """Call ``callback`` (in its own task) for each execution completed in this process."""
        self._listeners.append(callback)

    def add_change_listener(self, callback: ChangeListener) -> None:
        """Call ``callback`` (in its own task, in order) for each status change of a child
        execution (one with a ``parent``) made in this process."""
        self._change_listeners.append(callback)

    # -- requests -------------------------------------------------------------------------
    def action(self, ref: str) -> Action:
        action = self.index.get_action(ref)
        if not action.enabled:
            raise ExecutionError(f'Action "{ref}" cannot be executed because it is disabled.')
        if action.runner_type not in self.runners:
            raise ExecutionError(f"runner {action.runner_type!r} of {ref} is not available")
        return action

    async def request(
        self,
        ref: str,
        parameters: Mapping[str, Any],
        *,
        context: Mapping[str, Any] | None = None,
        render_live: bool = True,
        parent: str | None = None,
        hold: bool = False,
        admit: Admission | None = None,
        execution_id: str | None = None,
    ) -> Execution:
        """Validate and render parameters, persist a ``requested`` execution, wake a worker.

        ``hold=True`` stores it ``pending`` instead: nothing runs it until ``release`` (an
        approval-gated request). ``admit`` sees the final parameters (defaults applied) before
        anything is stored and raises to refuse them (chat permission checks). Raises
        ParameterError / ExecutionError / UnknownActionError before anything is stored.
        """
        execution = await self.prepare(
            ref, parameters, context=context, render_live=render_live, parent=parent,
            hold=hold, admit=admit, execution_id=execution_id,
        )  # fmt: skip
        await self.store.executions.insert(execution)
        self._observe_created(execution)
        logger.info("execution %s %s: %s", execution.id, execution.status, execution.action_ref)
        if not hold:
            self.start_soon(execution)
        return execution

    async def prepare(
        self,
        ref: str,
        parameters: Mapping[str, Any],
        *,
        context: Mapping[str, Any] | None = None,
        render_live: bool = True,
        parent: str | None = None,
        hold: bool = False,
        admit: Admission | None = None,
        execution_id: str | None = None,
    ) -> Execution:
        """The execution ``request`` would store, not stored: for a caller that writes it in
        its own transaction (the rules engine) and then calls ``start_soon``."""
        action = self.action(ref)
        ctx = {"user": "stanley", **(context or {}), "pack": action.pack}
        pack = self.index.packs.get(action.pack)
        with recording_decryptions() as decrypted:  # shown masked like secrets (core.kv)
            resolved = resolve_parameters(
                RUNNER_TYPES[action.runner_type],
                action,
                parameters,
                action_context=ctx,
                config_context=pack.config if pack else {},
                kv=await self._kv_for(action, parameters if render_live else {}, ctx),
                render_live=render_live,
            )
        # Every parameter holding a secret (a rendered ``cmd`` too) is masked like a secret.
        secrets = [*decrypted, *secret_values(resolved.schema, resolved.all)]
        ctx = mark_decrypted(ctx, resolved.all, secrets)
        if admit is not None:
            await admit(resolved.all, ctx.get(DECRYPTED_PARAMETERS) or [])
        execution = Execution.request(
            action.ref, action.runner_type, resolved.all, ctx, parent=parent, held=hold,
            execution_id=execution_id,
        ).with_changes(secrets=tuple(secrets))  # fmt: skip
        return execution

    async def release(self, execution_id: str, context: Mapping[str, Any]) -> Execution | None:
        """A held (``pending``) execution goes to ``requested`` with ``context`` merged in.

        None when it is no longer pending (canceled meanwhile, or released by someone else).
        """
        current = await self.store.executions.get(execution_id)
        if current is None or current.status is not S.PENDING:
            return None
        released = await self.cas(current, S.REQUESTED, context={**current.context, **context})
        if released is not None:
            self._wakeup.set()
        return released

    async def end_held(
        self, execution_id: str, status: ExecutionStatus, result: dict[str, Any]
    ) -> Execution | None:
        """A held execution ends without running (denied → canceled, expired → timeout)."""
        current = await self.store.executions.get(execution_id)
        if current is None or current.status is not S.PENDING:
            return None
        return await self.cas(current, status, result=result)

    async def request_failed(
        self,
        ref: str,
        parameters: Mapping[str, Any],
        *,
        context: Mapping[str, Any] | None = None,
        error: str,
    ) -> Execution:
        """Persist an execution that is ``failed`` from birth, with result ``{error}``.

        st2 records a rule whose parameters cannot be rendered as a failed execution rather
        than dropping it, so the failure is visible where operators look (st2-format §4).
        """
        failed = self.prepare_failed(ref, parameters, context=context, error=error)
        await self.store.executions.insert(failed)
        self._observe_created(failed)
        logger.info("execution %s failed at request: %s", failed.id, error)
        return failed

    def prepare_failed(
        self,
        ref: str,
        parameters: Mapping[str, Any],
        *,
        context: Mapping[str, Any] | None = None,
        error: str,
        execution_id: str | None = None,
    ) -> Execution:
        """The execution ``request_failed`` would store, not stored (see ``prepare``)."""
        action = self.index.actions.get(ref)
        runner_type = action.runner_type if action else ""
        ctx = {"user": "stanley", **(context or {})}
        if action is not None:
            ctx["pack"] = action.pack
        requested = Execution.request(
            ref, runner_type, dict(parameters), ctx, execution_id=execution_id
        )
        return requested.transition(S.FAILED, result={"error": error})

    def start_soon(self, execution: Execution) -> None:
        """Run a ``requested`` execution this caller has just stored, in this process if it
        serves and a slot frees up: one write takes it from requested to running (no claim,
        no ``scheduled``). Otherwise (not serving, or a concurrency policy governs the action)
        the claim loop, here or in another process, picks it up."""
        self._observe_created(execution)  # stored by the caller (one transaction)
        if execution.status is not S.REQUESTED:
            return
        if not self._intake_open or self.policies.governs(execution.action_ref):
            self._wakeup.set()
            return
        task = asyncio.create_task(self._start_here(execution), name=f"exec-{execution.id}")
        self._tasks.add(task)
        task.add_done_callback(self._direct_done)

    async def _start_here(self, requested: Execution) -> None:
        async with self._slots:
            if not self._intake_open:
                return  # stays requested: the next start runs it
            lease = utcnow() + LEASE
            running = await self.cas(
                requested, S.RUNNING, owner=str(self.owner), lease_expires=lease
            )
            if running is not None:  # else a claimer here or elsewhere took it first
                await self._execute(running)

    def _direct_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()):
            logger.error("execution task crashed", exc_info=error)

    async def _request_retry(self, retry: RetryRequest) -> Execution:
        # The stored parameters were rendered and validated once (immutable defaults included):
        # re-resolving them would render templates twice, so they are reused as they are.
        action = self.action(retry.action_ref)
        execution = Execution.request(
            action.ref, action.runner_type, retry.parameters, {**retry.context, "pack": action.pack}
        )
        await self.store.executions.insert(execution)
        self._observe_created(execution)
        self._wakeup.set()
        return execution

    async def _kv_for(
        self, action: Action, live: Mapping[str, Any], ctx: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        """The ``st2kv`` context, loaded only when a template could read it (a hot path)."""
        if self.kv is None or not mentions_kv(action, live):
            return None
        return await kv_context(self.kv, ctx.get("api_user") or ctx.get("user"))

    async def get(self, execution_id: str) -> Execution | None:
        return await self.store.executions.get(execution_id)

    def to_api(self, execution: Execution) -> dict[str, Any]:
        return execution_to_api(execution, self.index.actions.get(execution.action_ref))

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

    # -- cancel ---------------------------------------------------------------------------
    async def cancel(self, execution_id: str, user: str = "stanley") -> Execution:
        for _ in range(5):  # retry a lost CAS a few times: the status moved under us
            current = await self.store.executions.get(execution_id)
            if current is None:
                raise ExecutionError(f"execution {execution_id} not found")
            if current.is_completed or current.status is S.CANCELING:
                return current
            result = {**CANCELED_RESULT, "user": user}
            if current.status in (S.REQUESTED, S.DELAYED, S.SCHEDULED, S.PENDING) and (
                current.id not in self._running
            ):
                done = await self.cas(current, S.CANCELED, result=result)
            else:
                done = await self.cas(current, S.CANCELING)
                if done and (running := self._running.get(execution_id)):
                    running.cancel.set()
                if done and (controller := self.controllers.get(done.runner_type)):
                    await controller.cancel(done)
            if done:
                return done
        raise ExecutionError(f"execution {execution_id} kept changing; cancel not applied")

    async def pause(self, execution_id: str) -> Execution:
        """Ask a running workflow to pause (``pausing``; ``paused`` once nothing runs)."""
        current, controller = await self._controlled(execution_id, "paused")
        if current.status in (S.PAUSING, S.PAUSED):
            return current
        if current.status is not S.RUNNING:
            raise ExecutionError(f"execution {execution_id} is {current.status}; cannot pause")
        done = await self.cas(current, S.PAUSING)
        if done is None:
            raise ExecutionError(f"execution {execution_id} changed meanwhile; try again")
        await controller.pause(done)
        return await self.store.executions.get(execution_id) or done

    async def resume(self, execution_id: str) -> Execution:
        """Resume a paused (or pausing) workflow."""
        current, controller = await self._controlled(execution_id, "resumed")
        if current.status in (S.RUNNING, S.RESUMING):
            return current
        if current.status not in (S.PAUSED, S.PAUSING):
            raise ExecutionError(f"execution {execution_id} is {current.status}; cannot resume")
        if current.status is S.PAUSED:
            current = await self.cas(current, S.RESUMING) or current
        await controller.resume(current)
        return await self.store.executions.get(execution_id) or current

    async def _controlled(self, execution_id: str, verb: str) -> tuple[Execution, Controller]:
        current = await self.store.executions.get(execution_id)
        if current is None:
            raise ExecutionError(f"execution {execution_id} not found")
        controller = self.controllers.get(current.runner_type)
        if controller is None:
            raise ExecutionError(
                f"execution {execution_id} ({current.action_ref}) is not a workflow; only "
                f"workflows can be {verb}"
            )
        return current, controller

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

    async def run_here(self, execution: Execution) -> Execution:
        """Run a requested execution in this process now (the CLI's ``squall run``).

        Scheduling is still a CAS: if a ``squall serve`` sharing the store took it first, we
        simply wait for that process to finish it.
        """
        if self.policies.governs(execution.action_ref) and not await self.policies.admit(execution):
            return await self.wait(execution.id)  # delayed (a `serve` runs it) or canceled
        now = utcnow()
        scheduled = await self.cas(
            execution, S.SCHEDULED, owner=str(self.owner), lease_expires=now + LEASE
        )
        if scheduled is not None:
            await self._execute(scheduled)
        done = await self.wait(execution.id)
        await self.policies.settle()  # release waiters, request a retry before the CLI exits
        return done

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        await self.policies.recover()
        self._intake_open = True
        self._loops = [
            asyncio.create_task(self._dispatch_loop(), name="squall-dispatch"),
            asyncio.create_task(self._heartbeat_loop(), name="squall-heartbeat"),
        ]

    async def stop(self, grace: float = 30.0) -> None:
        """Stop intake, let running executions finish up to ``grace``, abandon the rest."""
        self._intake_open = False
        for loop in self._loops:
            loop.cancel()
        for loop in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        for running in list(self._running.values()):
            running.abandon = True
            running.cancel.set()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5)
        await self._stop_listeners(grace)
        await self.policies.close()
        for runner in self.runners.values():
            await runner.close()

    async def _stop_listeners(self, grace: float) -> None:
        if self._listener_tasks:
            await asyncio.wait(set(self._listener_tasks), timeout=grace)
        pending = list(self._listener_tasks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _dispatch_loop(self) -> None:
        while self._intake_open:
            await self._slots.acquire()
            try:
                execution = await self._claim()
            except Exception:  # a store hiccup must not kill intake for good
                logger.exception("claiming an execution failed; retrying")
                execution = None
            if execution is None:
                self._slots.release()
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.options.poll_interval)
                continue
            task = asyncio.create_task(self._execute(execution), name=f"exec-{execution.id}")
            self._tasks.add(task)
            task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()
        if not task.cancelled() and (error := task.exception()):
            logger.error("execution task crashed", exc_info=error)

    async def _claim(self) -> Execution | None:
        while True:
            now = utcnow()
            claimed = await self.store.executions.claim(str(self.owner), now + LEASE, now)
            if claimed is None:
                return None
            fault_point(f"execution {claimed.action_ref} claimed {claimed.id}")
            # A concurrency policy may delay or cancel it; then the next one gets its turn.
            if not self.policies.governs(claimed.action_ref) or await self.policies.admit(claimed):
                return await self.cas(claimed, S.SCHEDULED)

    async def _heartbeat_loop(self) -> None:
        """Keep leases alive and notice cancels requested by other processes."""
        while True:
            await asyncio.sleep(self.options.heartbeat_interval)
            try:
                await self._heartbeat()
            except Exception:
                logger.exception("execution heartbeat failed; retrying")

    async def _heartbeat(self) -> None:
        for running in list(self._running.values()):
            current = await self.store.executions.get(running.execution_id)
            if current is not None and current.status is S.CANCELING:
                running.cancel.set()
            await self.store.executions.renew_lease(
                running.execution_id, str(self.owner), utcnow() + LEASE
            )

    # -- running one execution ------------------------------------------------------------
    async def _execute(self, scheduled: Execution) -> None:
        running = RunningExecution(scheduled.id)
        self._running[scheduled.id] = running
        try:
            with _log_context(scheduled):
                final = await run_execution(self, scheduled, running)
        finally:
            self._running.pop(scheduled.id, None)
        if final is not None:
            self._notify_waiters(final)

    def _notify_waiters(self, execution: Execution) -> None:
        for future in self._waiters.pop(execution.id, []):
            if not future.done():
                future.set_result(execution)

    def _notify_listeners(self, execution: Execution) -> None:
        # Own tasks: a slow or failing listener must never delay or break the execution path.
        for listener in self._listeners:
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
        try:
            won = await self.store.executions.replace(new, expected_status=current.status)
        except DocumentRejected as exc:
            if not new.is_completed:
                raise
            logger.error("execution %s: result refused by the store: %s", current.id, exc)
            new = with_rejected_result(current, new, str(exc))
            won = await self.store.executions.replace(new, expected_status=current.status)
        if won:
            fault_point(f"execution {new.action_ref} {status} {new.id}")
            self._observe(new)
            if new.is_completed:
                self._notify_waiters(new)
                self._notify_listeners(new)  # here, not in _notify_waiters: once per CAS winner
                self.policies.on_completed(new)
                metrics.execution_completed(new)
            self._notify_changes(new)
            return new
        return None

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
        for listener in self._change_listeners:
            task = asyncio.create_task(self._call_listener(listener, execution))
            self._listener_tasks.add(task)
            task.add_done_callback(self._listener_tasks.discard)

    async def finish(self, current: Execution, outcome: RunnerResult) -> Execution | None:
        """Record a runner's outcome; if someone asked to cancel meanwhile, end as canceled."""
        done = await self.cas(current, outcome.status, result=outcome.result)
        if done is not None:
            return done
        latest = await self.store.executions.get(current.id)
        if latest is not None and latest.status is S.CANCELING:
            return await self.cas(latest, S.CANCELED, result=outcome.result)
        return latest


__all__ = [
    "ActionTokens",
    "Controller",
    "ExecutionError",
    "ExecutionObserver",
    "ExecutionOptions",
    "ExecutionService",
    "ParameterError",
]


def _log_context(execution: Execution) -> AbstractContextManager[None]:
    """Every line logged while this execution runs names it and its trace."""
    trace = TraceContext.of_execution(execution.context)
    if trace is not None:
        logcontext.remember_trace(execution.id, trace.id)
    return logcontext.bound(
        execution_id=execution.id,
        trace_id=trace.id if trace else None,
        user=str(execution.context.get("user") or "") or None,
    )

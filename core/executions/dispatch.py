"""Dispatch: claim requested executions (leases, policies, concurrency slots), run them here,
keep their leases alive, and stop cleanly (abandoning what is still running)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AbstractContextManager
from datetime import timedelta

from core.executions.changes import ExecutionChanges, S
from core.executions.faults import fault_point
from core.executions.run import RunningExecution, run_execution, run_runner
from core.models import Execution, utcnow
from core.models.trace import TraceContext
from core.observe import logcontext
from core.runners.base import runs_in_memory

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)


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


class ExecutionDispatch(ExecutionChanges):
    def start_soon(self, execution: Execution) -> None:
        """Run a ``requested`` execution this caller has just stored, in this process if it
        serves and a slot frees up: one write takes it from requested to running (no claim,
        no ``scheduled``). Otherwise (not serving, or a concurrency policy governs the action)
        the claim loop, here or in another process, picks it up."""
        if execution.is_completed:  # it ran before it was stored (``run_before_storing``)
            self._announce_steps(execution)
            return
        self._observe_created(execution)  # stored by the caller (one transaction)
        if execution.status is not S.REQUESTED:
            return
        if not self._intake_open or self.policies.governs(execution.action_ref):
            self._wakeup.set()
            return
        task = asyncio.create_task(self._start_here(execution), name=f"exec-{execution.id}")
        self._tasks.add(task)
        task.add_done_callback(self._direct_done)

    async def run_before_storing(self, requested: Execution) -> Execution:
        """For a caller about to store ``requested`` in its own transaction (the rules
        engine's settle): run it now, if its runner ``runs_in_memory``, this process serves,
        nothing governs the action and it is no workflow's task, and return it completed, to
        be stored so (request, start and end in one commit); else ``requested`` as it is.
        Why that keeps every promise: the run touched nothing, so a settle that never
        commits (a crash, a lost CAS) leaves nothing behind, and the evaluation that commits
        later runs it again. The caller passes what it stored to ``start_soon``, which
        tells observers and listeners of each step."""
        runner = self.runners.get(requested.runner_type)
        action = self.index.actions.get(requested.action_ref)
        if (
            requested.status is not S.REQUESTED
            or requested.parent is not None
            or runner is None
            or action is None
            or not runs_in_memory(runner)
            or not self._intake_open
            or self.policies.governs(requested.action_ref)
        ):
            return requested
        running = requested.transition(S.RUNNING, owner=str(self.owner))
        with _log_context(running):
            outcome = await run_runner(self, action, [running], RunningExecution(running.id))
        return running.transition(outcome.status, result=outcome.result)

    def _announce_steps(self, done: Execution) -> None:
        """Observers, fault points and listeners hear each status ``done`` went through in
        memory (its log), as if each had been stored, now that all of them are."""
        log = done.log
        self._observe_created(_as_of(done, 1).with_changes(owner=None))
        for length in range(2, len(log)):
            self.changed(_as_of(done, length))
        self.changed(done)

    async def _start_here(self, requested: Execution) -> None:
        async with self._slots:
            if not self._intake_open:
                return  # stays requested: the next start runs it
            runner = self.runners.get(requested.runner_type)
            if runner is not None and runs_in_memory(runner) and self._in_memory(requested):
                await self._run_in_memory(requested)
                return
            lease = utcnow() + LEASE
            running = await self.cas(
                requested, S.RUNNING, owner=str(self.owner), lease_expires=lease
            )
            if running is not None:  # else a claimer here or elsewhere took it first
                await self._execute(running)

    async def _run_in_memory(self, requested: Execution) -> None:
        """Run a ``runs_in_memory`` action (``noop``): ``running`` is heard by observers but
        not stored, so requested → completed is one write. Why that is safe: running it again
        after a crash (it is still ``requested``) or alongside a claimer elsewhere changes
        nothing but which run's CAS wins. A task of a workflow (``parent``) runs so only if
        its engine says so (``child_in_memory``): its end is then written by the workflow's
        step, as a CAS on the ``requested`` the store holds."""
        running = requested.transition(S.RUNNING, owner=str(self.owner))
        self.unstored[running.id] = (S.RUNNING, requested.status)
        try:
            self.changed(running)
            await self._execute(running)
        finally:
            self.unstored.pop(running.id, None)

    def _in_memory(self, requested: Execution) -> bool:
        if requested.parent is None:
            return True
        takes = self.child_in_memory
        return takes is not None and takes(requested)

    def _direct_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (error := task.exception()):
            logger.error("execution task crashed", exc_info=error)

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


def _as_of(done: Execution, length: int) -> Execution:
    """``done`` as it was after the first ``length`` entries of its log (before its end)."""
    log = done.log[:length]
    return done.with_changes(status=log[-1].status, log=log, result=None, end_timestamp=None)

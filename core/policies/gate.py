"""Applying policies to executions in the store: the glue around the pure decisions.

The execution service asks ``admit`` before it schedules an execution of a governed action, and
calls ``on_completed`` for every execution it completes. Every status change goes through the
service's compare-and-set, so several processes sharing a store never both move one execution.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Protocol

from core.models import Execution, ExecutionStatus
from core.policies.compiled import PolicySet
from core.policies.concurrency import Admission, Verdict, decide, releasable
from core.policies.retry import RetryRequest, plan_retry
from core.store import ExecutionQuery, Store

logger = logging.getLogger(__name__)

S = ExecutionStatus
ACTIVE = (S.SCHEDULED, S.RUNNING)
PAGE = 500


class Transition(Protocol):
    async def __call__(
        self, current: Execution, status: ExecutionStatus, **changes: Any
    ) -> Execution | None:
        """Compare-and-set ``current`` to ``status``; None if another writer moved it first."""


Requester = Callable[[RetryRequest], Awaitable[Execution]]


class PolicyGate:
    def __init__(
        self,
        policies: PolicySet,
        store: Store,
        transition: Transition,
        request: Requester,
        wake: Callable[[], None],
    ) -> None:
        self.policies = policies
        self._store = store
        self._transition = transition
        self._request = request
        self._wake = wake
        self._tasks: set[asyncio.Task[None]] = set()

    def governs(self, action_ref: str) -> bool:
        return self.policies.governs(action_ref)

    # -- concurrency ------------------------------------------------------------------------
    async def admit(self, requested: Execution) -> bool:
        """True if ``requested`` may be scheduled now; else it was delayed or canceled."""
        policies = self.policies.concurrency.get(requested.action_ref, ())
        if not policies:
            return True
        active = [e.parameters for e in await self._list(requested.action_ref, ACTIVE)]
        verdict = decide(policies, requested.parameters, active)
        if verdict.admission is Admission.PROCEED:
            return True
        if verdict.admission is Admission.DELAY:
            await self._delay(requested, verdict)
        else:
            await self._cancel(requested, verdict)
        return False

    async def _delay(self, requested: Execution, verdict: Verdict) -> None:
        # The lease goes: once released, any process may claim it at once.
        if await self._transition(requested, S.DELAYED, owner=None, lease_expires=None) is None:
            return
        logger.info("execution %s delayed by policy %s", requested.id, verdict.policy_ref)
        # A slot may have freed after we counted, and its completion found no waiter yet:
        # look again now that this execution is visible as delayed.
        await self.release(requested.action_ref)

    async def _cancel(self, requested: Execution, verdict: Verdict) -> None:
        canceling = await self._transition(requested, S.CANCELING, owner=None, lease_expires=None)
        if canceling is None:
            return
        result = {
            "message": f"Action canceled by policy {verdict.policy_ref}.",
            "policy": verdict.policy_ref,
        }
        await self._transition(canceling, S.CANCELED, result=result)
        logger.info("execution %s canceled by policy %s", requested.id, verdict.policy_ref)

    async def release(self, action_ref: str) -> None:
        """Send back to ``requested`` the oldest delayed executions that now fit."""
        delayed = await self._list(action_ref, (S.DELAYED,))
        if not delayed:
            return
        delayed.reverse()  # listed newest first; the oldest waiter goes first
        active = [e.parameters for e in await self._list(action_ref, ACTIVE)]
        policies = self.policies.concurrency.get(action_ref, ())
        released = 0
        for execution in releasable(policies, active, delayed):
            if await self._transition(execution, S.REQUESTED) is not None:
                released += 1
        if released:
            self._wake()

    async def recover(self) -> None:
        """At start: delayed executions a stopped process left must not wait forever."""
        delayed = await self._list(None, (S.DELAYED,))
        for action_ref in sorted({e.action_ref for e in delayed}):
            await self.release(action_ref)

    async def _list(self, action_ref: str | None, statuses: Sequence[S]) -> list[Execution]:
        found: list[Execution] = []
        while True:
            query = ExecutionQuery(
                statuses=tuple(statuses), action_ref=action_ref, limit=PAGE, offset=len(found)
            )
            page = await self._store.executions.list(query)
            found.extend(page)
            if len(page) < PAGE:
                return found

    # -- completion ---------------------------------------------------------------------------
    def on_completed(self, execution: Execution) -> None:
        """Free the slot for waiters and plan a retry; both in tasks of their own."""
        ref = execution.action_ref
        if ref in self.policies.concurrency:
            self._spawn(self.release(ref), f"releasing delayed {ref}")
        retry_policies = self.policies.retry.get(ref)
        if retry_policies and (plan := plan_retry(retry_policies, execution)) is not None:
            self._spawn(self._retry_later(plan), f"retrying {execution.id}")

    async def _retry_later(self, plan: RetryRequest) -> None:
        await asyncio.sleep(plan.delay)  # a timer task: never blocks the completion path
        retry = plan.context["policies"]["retry"]
        new = await self._request(plan)
        logger.info(
            "execution %s retried by policy %s (retry %s): %s",
            retry["retried_liveaction_id"],
            retry["applied_policy"],
            retry["retry_count"],
            new.id,
        )

    def _spawn(self, work: Coroutine[Any, Any, None], what: str) -> None:
        task = asyncio.create_task(self._guarded(work, what))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guarded(work: Coroutine[Any, Any, None], what: str) -> None:
        try:
            await work
        except Exception:  # a store hiccup here must not surface in the execution path
            logger.exception("policy work failed: %s", what)

    async def settle(self) -> None:
        """Wait for pending policy work, retry timers included (a short-lived CLI run)."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def close(self) -> None:
        """Cancel pending work; a retry still waiting for its delay is dropped."""
        pending = list(self._tasks)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

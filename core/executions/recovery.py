"""Startup recovery: nothing a dead process left behind stays "running" forever.

An in-flight execution is abandoned when its owner is provably gone: on this host, its pid no
longer runs with the same start time; elsewhere, its lease expired without renewal. A process
group it left behind (e.g. ``sleep 300``) is killed once we can prove it belongs to it.
"""

from __future__ import annotations

import logging
from datetime import datetime

from core.executions.owner import OwnerId, kill_leftover_group, kill_unrecorded
from core.models import IN_FLIGHT, Execution, ExecutionStatus, utcnow
from core.store import ExecutionQuery, Store

logger = logging.getLogger(__name__)
PAGE = 500
ABANDONED_ERROR = "The Squall process running this execution stopped ({owner}); abandoned."


def owner_is_gone(execution: Execution, now: datetime) -> bool:
    owner = OwnerId.parse(execution.owner) if execution.owner else None
    if owner is not None and owner.is_local():
        return not owner.is_alive()
    return execution.lease_expires is None or execution.lease_expires < now


async def _in_flight(store: Store) -> list[Execution]:
    found: list[Execution] = []
    while True:
        page = await store.executions.list(
            ExecutionQuery(statuses=tuple(IN_FLIGHT), limit=PAGE, offset=len(found))
        )
        found.extend(page)
        if len(page) < PAGE:
            return found


async def abandon_orphans(
    store: Store, *, resumable: frozenset[str] = frozenset()
) -> list[Execution]:
    """Abandon every in-flight execution whose owner is gone; return what was abandoned.

    Executions of ``resumable`` runner types (workflows) are left to their engine's recovery:
    their state is in the store and they carry on.
    """
    now = utcnow()
    abandoned: list[Execution] = []
    unrecorded: list[str] = []  # abandoned without a pgid: see core.executions.pgid
    await release_dead_claims(store, now)
    for execution in await _in_flight(store):
        if execution.runner_type in resumable or not owner_is_gone(execution, now):
            continue
        if execution.status is ExecutionStatus.SCHEDULED:
            await _requeue(store, execution)
            continue
        error = ABANDONED_ERROR.format(owner=execution.owner or "never started")
        new = execution.transition(
            ExecutionStatus.ABANDONED, result={**(execution.result or {}), "error": error}
        )
        if not await store.executions.replace(new, expected_status=execution.status):
            continue  # somebody else resolved it first
        abandoned.append(new)
        logger.warning("execution %s abandoned: %s", execution.id, error)
        if not execution.pgid:
            unrecorded.append(execution.id)
        elif kill_leftover_group(execution.pgid, execution.id):
            logger.warning("killed leftover process group %s of %s", execution.pgid, execution.id)
    if killed := kill_unrecorded(unrecorded):
        logger.warning("killed %d leftover processes of abandoned executions", killed)
    return abandoned


async def _requeue(store: Store, execution: Execution) -> None:
    """Scheduled but never started (the runner runs only after ``running``): run it again."""
    new = execution.transition(ExecutionStatus.REQUESTED, owner=None, lease_expires=None)
    if await store.executions.replace(new, expected_status=execution.status):
        logger.warning("execution %s requeued: its process stopped before starting it", new.id)


async def release_dead_claims(store: Store, now: datetime) -> int:
    """Requested executions claimed by a process that died before scheduling them: clear the
    claim so the next claimer need not wait for the lease to run out."""
    released = 0
    offset = 0
    while True:
        page = await store.executions.list(
            ExecutionQuery(statuses=(ExecutionStatus.REQUESTED,), limit=PAGE, offset=offset)
        )
        offset += len(page)
        for execution in page:
            if execution.owner is None or not owner_is_gone(execution, now):
                continue
            free = execution.with_changes(owner=None, lease_expires=None)
            if await store.executions.replace(free, expected_status=execution.status):
                released += 1
        if len(page) < PAGE:
            return released

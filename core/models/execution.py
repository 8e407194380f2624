"""The execution record: what was asked, what happened, and when (StackStorm's shape)."""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import time
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from core.models.status import COMPLETED, ExecutionStatus, check_rerun, check_transition

MASK = "********"


def utcnow() -> datetime:
    return datetime.now(UTC)


class _IdStream:
    """Ids that sort by creation time and cannot be predicted, without a system call per id.

    The first 10 hex digits are the creation time in 1/256 s (its first 8 are the Unix seconds,
    as in a MongoDB ObjectId), the last 14 (56 bits) a keyed BLAKE2b (a PRF) of a counter, keyed
    from ``os.urandom`` once per process (and again in a forked child, which would otherwise
    repeat its parent's ids).

    Why time first: every id is a key of an index B-tree (each table's primary key, the trace
    index, the enforcements' instance key); random keys land on a random leaf page each, so a
    commit of N events dirtied ~N pages per index and wrote them all to the WAL. Ids that grow
    with time append to the last page instead: the three inserts of a webhook event went from
    57 to 30 µs of CPU and from 11.8 to 5.0 WAL pages (15 events per transaction; 72 → 47 µs
    and 18.5 → 13.1 pages at 3 per transaction).
    Why not ``os.urandom`` per id: it releases the GIL, and under load getting it back meant
    waiting for the SQLite writer thread; that wait averaged 48 µs per id on the webhook path.
    """

    def __init__(self) -> None:
        self._reseed()
        os.register_at_fork(after_in_child=self._reseed)

    def _reseed(self) -> None:
        self._keyed = hashlib.blake2b(key=os.urandom(32), digest_size=7)
        self._counter = itertools.count()

    def next(self) -> str:
        digest = self._keyed.copy()
        digest.update(next(self._counter).to_bytes(8, "little"))
        return f"{int(time.time() * 256):010x}{digest.hexdigest()}"


_IDS = _IdStream()


def new_id() -> str:
    """24 hex chars like a Mongo ObjectId, so ids look familiar to st2 users; 96 pseudorandom
    bits give uniqueness across processes without coordination."""
    return _IDS.next()


@functools.lru_cache(maxsize=4096)
def utc_text(ts: datetime) -> str:
    """Fixed-width UTC text (``2026-01-02T03:04:05.000006Z``), so string order is time order.

    Cached: one write formats the same instants again and again (every status change of an
    execution re-encodes its whole log and start time), ~20 times per webhook event."""
    return ts.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def isoformat(ts: datetime | None) -> str | None:
    return utc_text(ts) if ts else None


def parse_ts(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass(frozen=True)
class StatusChange:
    status: ExecutionStatus
    timestamp: datetime


@dataclass(frozen=True)
class Execution:
    """One run of one action. Immutable: every change makes a new value the store CAS-writes."""

    id: str
    action_ref: str
    runner_type: str
    status: ExecutionStatus
    parameters: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None
    context: dict[str, Any] = field(default_factory=dict)
    start_timestamp: datetime = field(default_factory=utcnow)
    end_timestamp: datetime | None = None
    log: tuple[StatusChange, ...] = ()
    parent: str | None = None
    children: tuple[str, ...] = ()
    # Who is running it (``host:pid:boot``) and the process group of its subprocess, if any;
    # startup recovery uses both to abandon and clean up after a dead process.
    owner: str | None = None
    pgid: int | None = None
    lease_expires: datetime | None = None
    # In memory only: the secret strings among its parameters (``secret: true`` values and
    # ``decrypt_kv`` results). The store seals parameters holding them and masks them in the
    # result and context (core.store.sealing); never serialized by ``to_doc``.
    secrets: tuple[str, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def request(
        cls,
        action_ref: str,
        runner_type: str,
        parameters: dict[str, Any],
        context: dict[str, Any] | None = None,
        parent: str | None = None,
        *,
        held: bool = False,
        execution_id: str | None = None,
    ) -> Execution:
        """A new execution: ``requested``, or ``pending`` when ``held`` for an approval.

        ``execution_id`` names it beforehand (a workflow's child, so a retried request after a
        crash finds the one it already made)."""
        now = utcnow()
        status = ExecutionStatus.PENDING if held else ExecutionStatus.REQUESTED
        context = dict(context or {})
        # Every execution belongs to a trace (st2's trace_context): the one its cause gave it
        # (a trigger instance, a parent), else a new one that it starts (chat, CLI, API).
        if "trace_context" not in context:  # not setdefault: it would draw an id every time
            context["trace_context"] = {"id_": new_id(), "trace_tag": None}
        return cls(
            id=execution_id or new_id(),
            action_ref=action_ref,
            runner_type=runner_type,
            status=status,
            parameters=parameters,
            context=context,
            start_timestamp=now,
            log=(StatusChange(status, now),),
            parent=parent,
        )

    @property
    def is_completed(self) -> bool:
        return self.status in COMPLETED

    @property
    def elapsed_seconds(self) -> float | None:
        if self.end_timestamp is None:
            return None
        return round((self.end_timestamp - self.start_timestamp).total_seconds(), 6)

    def transition(self, status: ExecutionStatus, **changes: Any) -> Execution:
        """A copy in ``status``; raises IllegalTransition when the table forbids it."""
        check_transition(self.status, status)
        now = utcnow()
        if status in COMPLETED:
            changes.setdefault("end_timestamp", now)
        return self._copy(status=status, log=(*self.log, StatusChange(status, now)), **changes)

    def rerun(self) -> Execution:
        """A completed workflow back to ``resuming`` for a rerun (the one way out of a
        completed status; RERUN_TRANSITIONS says from which)."""
        check_rerun(self.status)
        now = utcnow()
        status = ExecutionStatus.RESUMING
        return self._copy(status=status, end_timestamp=None, result=None,
                          log=(*self.log, StatusChange(status, now)))  # fmt: skip

    def with_changes(self, **changes: Any) -> Execution:
        return self._copy(**changes)

    def _copy(self, **changes: Any) -> Execution:
        """``dataclasses.replace`` without its cost (~8 µs, a full ``__init__`` through
        keyword arguments; this takes <1 µs): every status change makes one, several per
        webhook event. The class has no ``__post_init__`` or init-only fields to run."""
        unknown = changes.keys() - _FIELDS
        if unknown:
            raise TypeError(f"Execution has no field(s) {', '.join(sorted(unknown))}")
        new = object.__new__(Execution)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)  # frozen guards setattr only; this is a fresh object
        return new

    # -- serialization: one document shape for every store backend ------------------------
    def to_doc(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action_ref": self.action_ref,
            "runner_type": self.runner_type,
            "status": str(self.status),
            "parameters": self.parameters,
            "result": self.result,
            "context": self.context,
            "start_timestamp": isoformat(self.start_timestamp),
            "end_timestamp": isoformat(self.end_timestamp),
            "log": [
                {"status": str(c.status), "timestamp": isoformat(c.timestamp)} for c in self.log
            ],
            "parent": self.parent,
            "children": list(self.children),
            "owner": self.owner,
            "pgid": self.pgid,
            "lease_expires": isoformat(self.lease_expires),
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Execution:
        start = parse_ts(doc["start_timestamp"])
        assert start is not None
        return cls(
            id=doc["id"],
            action_ref=doc["action_ref"],
            runner_type=doc["runner_type"],
            status=ExecutionStatus(doc["status"]),
            parameters=doc.get("parameters") or {},
            result=doc.get("result"),
            context=doc.get("context") or {},
            start_timestamp=start,
            end_timestamp=parse_ts(doc.get("end_timestamp")),
            log=tuple(
                StatusChange(ExecutionStatus(c["status"]), parse_ts(c["timestamp"]) or start)
                for c in doc.get("log") or ()
            ),
            parent=doc.get("parent"),
            children=tuple(doc.get("children") or ()),
            owner=doc.get("owner"),
            pgid=doc.get("pgid"),
            lease_expires=parse_ts(doc.get("lease_expires")),
        )


_FIELDS = frozenset(f.name for f in fields(Execution))

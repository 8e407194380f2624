"""The Store contract. Backends: ``sqlite`` (embedded default) and ``mongo`` (motor).

The store is the source of truth: every status change is a compare-and-set, so two workers (or
two button clicks) can never both win. Later issues add repositories for trigger instances, rule
enforcements, workflow states, inquiries and kv beside ``executions``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from core.auth.tokens import Token
from core.kv.crypto import Keys
from core.kv.model import KeyValuePair
from core.models import (
    Execution,
    ExecutionStatus,
    RuleEnforcement,
    TriggerInstance,
    TriggerInstanceStatus,
)
from core.models.apikey import ApiKey
from core.models.approval import Approval, ApprovalStatus
from core.models.audit import AuditEntry
from core.models.lease import Lease, OutboxItem
from core.models.rule_state import RuleState
from core.models.trace import TraceSummary


@dataclass(frozen=True)
class ExecutionQuery:
    """Filters for listing executions; results are newest first unless ``oldest_first``."""

    statuses: Sequence[ExecutionStatus] = ()
    action_ref: str | None = None
    user: str | None = None
    parent: str | None = None
    top_level: bool = False  # only executions without a parent (st2's ``parent=null``)
    started_after: datetime | None = None  # exclusive bounds on start_timestamp
    started_before: datetime | None = None
    limit: int = 50
    offset: int = 0
    oldest_first: bool = False  # st2's sort_asc (by start_timestamp, then id)


class ExecutionRepository(Protocol):
    async def insert(self, execution: Execution) -> None:
        """Persist a new execution durably before returning."""

    async def get(self, execution_id: str) -> Execution | None: ...

    async def list(self, query: ExecutionQuery) -> list[Execution]: ...

    async def count(self, query: ExecutionQuery) -> int: ...

    async def replace(self, execution: Execution, *, expected_status: ExecutionStatus) -> bool:
        """Write ``execution`` only if the stored status is still ``expected_status``.

        Returns whether this writer won. Every status change goes through here.
        """

    async def claim(self, owner: str, lease_until: datetime, now: datetime) -> Execution | None:
        """Lease the oldest ``requested`` execution whose lease is empty or expired.

        Sets ``owner`` and ``lease_expires``; status is left to the caller's CAS. Two
        claimers never get the same execution while its lease is live.
        """

    async def renew_lease(self, execution_id: str, owner: str, lease_until: datetime) -> bool:
        """Extend a lease this owner holds; False if another owner took it."""

    async def delete_completed_before(self, cutoff: datetime) -> int:
        """Garbage collection: remove completed executions that ended before ``cutoff``."""


class KeyValueRepository(Protocol):
    """Datastore items keyed by (scope, stored name); values are stored exactly as given.

    Secrets arrive already encrypted (see core.kv.service). Expired items are invisible to
    ``get`` and ``list`` even before ``delete_expired`` removes them.
    """

    async def get(self, scope: str, name: str) -> KeyValuePair | None: ...

    async def put(self, pair: KeyValuePair) -> None:
        """Insert or replace the item with the pair's scope and name."""

    async def delete(self, scope: str, name: str) -> bool:
        """Remove an item; False if there was none."""

    async def list(
        self, scope: str, prefix: str | None = None, user: str | None = None
    ) -> list[KeyValuePair]:
        """Live items of ``scope`` sorted by name; ``user`` keeps only ``<user>:`` names, and
        ``prefix`` then applies to the name after that ``<user>:`` part."""

    async def delete_expired(self, now: datetime) -> int:
        """Garbage collection: remove items whose expiry is at or before ``now``."""


@dataclass(frozen=True)
class Fired:
    """One rule that fired for a trigger instance: its enforcement and the execution it
    requests (None when the rule failed before an execution could be built)."""

    enforcement: RuleEnforcement
    execution: Execution | None


class TriggerInstanceRepository(Protocol):
    """Trigger instances; at most one per (trigger, dedupe_key) when a dedupe_key is set."""

    async def insert(self, instance: TriggerInstance) -> bool:
        """Persist durably before returning; False (nothing stored) for a duplicate id or a
        (trigger, dedupe_key) already stored, so a replayed delivery is dispatched once."""

    async def get(self, instance_id: str) -> TriggerInstance | None: ...

    async def list_unfinished(self, limit: int = 100) -> list[TriggerInstance]:
        """``pending`` and ``processing`` instances, oldest first (re-processing at startup)."""

    async def list(
        self,
        trigger: str | None = None,
        status: TriggerInstanceStatus | None = None,
        limit: int = 50,
        offset: int = 0,
        *,
        after: datetime | None = None,
        before: datetime | None = None,
    ) -> list[TriggerInstance]:
        """Newest first (by occurrence time); ``after``/``before`` are exclusive bounds on it."""

    async def count(
        self,
        trigger: str | None = None,
        status: TriggerInstanceStatus | None = None,
        *,
        after: datetime | None = None,
        before: datetime | None = None,
    ) -> int:
        """How many ``list`` would return without limit and offset."""

    async def replace(
        self, instance: TriggerInstance, *, expected_status: TriggerInstanceStatus
    ) -> bool:
        """Write ``instance`` only if the stored status is still ``expected_status``."""

    async def settle(
        self,
        instance: TriggerInstance,
        *,
        expected_status: TriggerInstanceStatus,
        fired: Sequence[Fired],
    ) -> tuple[Execution, ...] | None:
        """Record what the rules did for an instance and move it to ``instance.status``.

        For each ``fired`` rule not enforced for this instance yet, its execution (if any) and
        its enforcement are stored; a rule already enforced is skipped, execution included.
        Then the instance is written if its stored status is still ``expected_status``.
        Returns the executions stored by this call, or None when the instance CAS was lost.

        SQLite does all of it in one transaction (a lost CAS writes nothing). MongoDB writes in
        order, each step idempotent: execution ids are derived from (instance, rule)
        (``core.models.trigger_instance.execution_id_for``), so a settle cut short by a crash
        and repeated by recovery finds what it already wrote and adds only the rest.
        """

    async def insert_settled(
        self, instance: TriggerInstance, fired: Sequence[Fired]
    ) -> tuple[Execution, ...] | None:
        """Store a new instance already evaluated here (``instance`` is finished; its log
        starts with its arrival) together with what its rules did, as ``settle`` records it.
        Returns the executions stored, or None when ``insert`` would have refused the
        instance (a duplicate id or dedupe key): then nothing is stored.

        SQLite does it in one transaction: the instance, its enforcements and executions are
        durable together, or none is. MongoDB inserts the instance as it arrived and then
        settles it, so a crash between leaves it unfinished and recovery evaluates it again;
        a settle that fails there leaves it so too, and returns () (stored, nothing to start).
        """

    async def delete_before(self, cutoff: datetime) -> int:
        """Garbage collection: remove processed/processing_failed instances older than cutoff."""


class RuleEnforcementRepository(Protocol):
    """Rule enforcements; at most one per (rule_ref, trigger_instance_id)."""

    async def insert(self, enforcement: RuleEnforcement) -> bool:
        """Persist durably; False (nothing stored) when this rule was already enforced for
        this trigger instance (or the id exists)."""

    async def get(self, enforcement_id: str) -> RuleEnforcement | None: ...

    async def list(
        self,
        rule_ref: str | None = None,
        trigger_instance_id: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[RuleEnforcement]:
        """Newest first (by enforced_at)."""

    async def count(
        self, rule_ref: str | None = None, trigger_instance_id: str | None = None
    ) -> int:
        """How many ``list`` would return without limit and offset."""

    async def delete_before(self, cutoff: datetime) -> int:
        """Garbage collection: remove enforcements enforced before ``cutoff``."""


class ApiKeyRepository(Protocol):
    """Webhook API keys, found by the hash of the key (the plaintext is never stored)."""

    async def insert(self, key: ApiKey) -> None:
        """Persist a new key; StoreError if its id or hash already exists."""

    async def find_by_hash(self, key_hash: str) -> ApiKey | None:
        """The unrevoked key with this hash, if any (revoked keys are never returned)."""

    async def list(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""

    async def revoke(self, key_id: str, at: datetime) -> bool:
        """Mark a key revoked; False if there is no such key or it was already revoked."""


class CredentialRepository(Protocol):
    """REST API credentials: users' password hashes and auth tokens (by the token's hash)."""

    async def set_password(self, user: str, password_hash: str, at: datetime) -> None:
        """Insert or replace ``user``'s password hash."""

    async def password_of(self, user: str) -> str | None: ...

    async def insert_token(self, token: Token) -> None:
        """Persist a new token; StoreError if its id or hash exists."""

    async def find_token(self, token_hash: str) -> Token | None:
        """The unrevoked token with this hash (the caller checks its expiry)."""

    async def revoke_token(self, token_id: str, at: datetime) -> bool:
        """Mark a token revoked; False if unknown or already revoked."""

    async def revoke_tokens_of(self, user: str, at: datetime) -> int:
        """Revoke every live token of ``user`` (a new password, a logout); how many."""

    async def delete_tokens_expired_before(self, cutoff: datetime) -> int:
        """Garbage collection: remove tokens that expired before ``cutoff``."""


class RuleStateRepository(Protocol):
    """``rule enable|disable`` overrides of the pack files' ``enabled``, by rule ref."""

    async def set(self, ref: str, enabled: bool, by_user: str) -> RuleState:
        """Insert or replace the override of ``ref``; returns what was stored."""

    async def list(self) -> list[RuleState]:
        """Every override, sorted by ref (see core.models.rule_state.overrides_of)."""


class ApprovalRepository(Protocol):
    """Approvals; every status change is a compare-and-set on the stored status."""

    async def insert(self, approval: Approval) -> None:
        """Persist durably before returning; StoreError if the id exists."""

    async def get(self, approval_id: str) -> Approval | None: ...

    async def replace(self, approval: Approval, *, expected_status: ApprovalStatus) -> bool:
        """Write ``approval`` only if the stored status is still ``expected_status``."""

    async def list_expired(self, now: datetime, limit: int = 100) -> list[Approval]:
        """Pending approvals whose expiry is at or before ``now``, soonest expiry first."""

    async def list(self, status: ApprovalStatus | None = None, limit: int = 50) -> list[Approval]:
        """Newest first (by created_at)."""


class AuditRepository(Protocol):
    """The append-only audit log."""

    async def insert(self, entry: AuditEntry) -> None: ...

    async def list(self, limit: int = 50, user: str | None = None) -> list[AuditEntry]:
        """Newest first; ``user`` keeps only that Squall user's entries."""


@dataclass(frozen=True)
class WorkflowRecord:
    """One piece of a workflow's saved state (a context, route, task entry or item status)."""

    kind: str
    key: str
    doc: dict[str, Any]


@dataclass(frozen=True)
class ChildCompletion:
    """A workflow task's execution as it ends (``execution``), written by the workflow step it
    triggers if the stored one still has ``expected_status`` (compare-and-set)."""

    execution: Execution
    expected_status: ExecutionStatus


@dataclass(frozen=True)
class StateWrite:
    """A save of a workflow's state: from ``expected_version`` to the next (0 in a step: it is
    created), its ``head`` and the ``records`` that changed."""

    expected_version: int
    head: dict[str, Any]
    records: Sequence[WorkflowRecord]


@dataclass(frozen=True)
class StepWrite(StateWrite):
    """What one workflow step writes (``save_step``): its state, the child executions it
    requests, the task executions that ended (``completed``)."""

    children: Sequence[Execution]
    completed: Sequence[ChildCompletion] = ()


@dataclass(frozen=True)
class StepWritten:
    """What ``save_step`` wrote: whether the state moved (its records and children written
    too), the completions whose compare-and-set won, the children inserted."""

    saved: bool
    completed: frozenset[str] = frozenset()
    inserted: frozenset[str] = frozenset()


@dataclass(frozen=True)
class StoredWorkflow:
    """A workflow's state as saved: the head of ``version`` and, per (kind, key), the newest
    record written at or before that version."""

    workflow_id: str
    version: int
    head: dict[str, Any]
    records: tuple[WorkflowRecord, ...]


class WorkflowStateRepository(Protocol):
    """Workflow conductor states, saved incrementally: a small head with a version, and
    records (kind, key, doc) written with the version of the save that changed them.

    A save writes only what changed and moves the head from ``expected_version`` to the next
    version in a compare-and-set; records of a save whose head never moved (a crash mid-save, a
    lost race) are never read. One writer per workflow at a time is the engine's job (a lock in
    the process, the workflow execution's lease across processes); the CAS is the safety net.
    """

    async def create(
        self, workflow_id: str, head: dict[str, Any], records: Sequence[WorkflowRecord]
    ) -> bool:
        """Save version 1; False (nothing written) if the workflow already has a state."""

    async def load(self, workflow_id: str) -> StoredWorkflow | None: ...

    async def save(self, workflow_id: str, state: StateWrite) -> bool:
        """Save version ``expected_version + 1``; False if the head is not at that version."""

    async def save_step(self, workflow_id: str, step: StepWrite) -> StepWritten:
        """One step of a workflow, in this order: the task executions that ended
        (``completed``, each a compare-and-set), then — only if every one of them won — its
        state (``expected_version`` 0: created) and the child executions it requests. One
        transaction where the backend has them (SQLite); in that order without (MongoDB: a
        crash between leaves completions the state does not know yet, or children named in the
        state but not requested; the engine's reconcile applies the ones and requests the
        others). The state is not saved if the head is not at ``expected_version``; a child
        that already exists (requested before a crash) is left as it is."""

    async def compact(self, workflow_id: str) -> int:
        """Drop records superseded by newer ones (after the workflow completed)."""

    async def delete(self, workflow_ids: Sequence[str]) -> int:
        """Remove these workflows' states (garbage collection); the number of heads removed."""


class LeaseRepository(Protocol):
    """Named cluster leases: one holder at a time per name, taken over once expired.

    The generic API for any job only one process may do (timers, sensors, a chat platform):
    see core.leases.LeaseKeeper, which acquires, renews and hands over.
    """

    async def acquire(self, name: str, holder: str, until: datetime, now: datetime) -> bool:
        """Take ``name`` for ``holder`` until ``until`` if it is free, expired (before
        ``now``) or already ``holder``'s (then this renews it); False if another holds it."""

    async def release(self, name: str, holder: str) -> bool:
        """Give the lease up (only its holder can); False if ``holder`` did not hold it."""

    async def list(self) -> list[Lease]:
        """Every lease ever taken (expired ones included), sorted by name."""


class OutboxRepository(Protocol):
    """Work one process stored for whichever process owns a channel, delivered once."""

    async def put(self, item: OutboxItem) -> bool:
        """Persist durably; False (nothing stored) if the id exists."""

    async def claim(
        self, channel: str, holder: str, until: datetime, now: datetime, limit: int = 50
    ) -> list[OutboxItem]:
        """Up to ``limit`` items of ``channel`` that nobody holds (or whose claim expired
        before ``now``), oldest first, now held by ``holder`` until ``until``."""

    async def done(self, item_id: str) -> bool:
        """Remove a delivered item; False if it was already gone."""

    async def count(self, channel: str | None = None) -> int:
        """Items waiting (claimed or not), for ``doctor`` and ``/readyz``."""

    async def purge(self, before: datetime) -> dict[str, int]:
        """Remove the items created before ``before`` (claimed or not); how many per channel."""


class TraceRepository(Protocol):
    """Traces, read from the trigger instances and executions that carry a trace context."""

    async def instances(self, trace_id: str, limit: int = 1000) -> list[TriggerInstance]:
        """The trace's trigger instances, oldest first."""

    async def executions(self, trace_id: str, limit: int = 10_000) -> list[Execution]:
        """The trace's executions (children included), oldest first."""

    async def find_by_tag(self, tag: str) -> str | None:
        """The id of the newest trace tagged ``tag``, if any."""

    async def recent(
        self, limit: int = 50, tag: str | None = None, *, oldest_first: bool = False
    ) -> list[TraceSummary]:
        """Traces, newest (or oldest) first by their first record, optionally only those
        tagged ``tag``."""


class Store(Protocol):
    """A backend: a set of repositories plus its lifecycle."""

    backend: str

    @property
    def executions(self) -> ExecutionRepository: ...

    @property
    def kv(self) -> KeyValueRepository: ...

    @property
    def trigger_instances(self) -> TriggerInstanceRepository: ...

    @property
    def rule_enforcements(self) -> RuleEnforcementRepository: ...

    @property
    def api_keys(self) -> ApiKeyRepository: ...

    @property
    def rule_states(self) -> RuleStateRepository: ...

    @property
    def credentials(self) -> CredentialRepository: ...

    @property
    def approvals(self) -> ApprovalRepository: ...

    @property
    def audit(self) -> AuditRepository: ...

    @property
    def workflows(self) -> WorkflowStateRepository: ...

    @property
    def leases(self) -> LeaseRepository: ...

    @property
    def traces(self) -> TraceRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    async def open(self) -> None:
        """Connect, create the schema/indexes and run forward migrations."""

    async def close(self) -> None: ...

    async def schema_version(self) -> int: ...

    async def probe_write(self) -> None:
        """A small real write; raises StoreError when the store cannot write (/readyz)."""

    def seal_with(self, keys: Keys) -> None:
        """Write executions sealed under ``keys`` from now on (core.store.sealing)."""


class StoreError(RuntimeError):
    """A backend failure with a message fit to show a user (URL, file, reason)."""


class DocumentRejected(StoreError):
    """The backend cannot store this document as it is: too large (MongoDB's 16 MiB, the
    same limit on SQLite for executions), or holding a value the backend cannot encode (an
    integer beyond 64 bits in BSON). Retrying the same write will not help."""


# The largest execution document any backend stores (MongoDB's BSON limit, 16 MiB).
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024


class DuplicateExecution(StoreError):
    """``insert`` of an execution id that is already stored."""

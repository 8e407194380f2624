"""What both backends share: the repositories of an open store, sealed once keys are set.

``SqliteStore`` and ``MongoStore`` build one ``Repositories`` in ``open()`` and drop it in
``close()``; ``BackendStore`` gives them the ``Store`` properties over it, each raising
``StoreError`` naming the store while it is closed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from core.kv.crypto import Keys
from core.models import Execution
from core.store.base import (
    ApiKeyRepository,
    ApprovalRepository,
    AuditRepository,
    CredentialRepository,
    ExecutionRepository,
    KeyValueRepository,
    LeaseRepository,
    OutboxRepository,
    RuleEnforcementRepository,
    RuleStateRepository,
    StoreError,
    TraceRepository,
    TriggerInstanceRepository,
    WorkflowStateRepository,
)
from core.store.sealing import SealedExecutions, SealedWorkflows, seal_execution

__all__ = ["BackendStore", "Repositories"]


class SealableTriggerInstances(TriggerInstanceRepository, Protocol):
    # Executions fired by a rule are written by the trigger instance repository itself; the
    # store sets this to seal them like every other execution.
    seal: Callable[[Execution], Execution]


@dataclass(frozen=True)
class Repositories:
    """The repositories of one open store (unsealed: ``BackendStore`` seals)."""

    executions: ExecutionRepository
    kv: KeyValueRepository
    trigger_instances: SealableTriggerInstances
    rule_enforcements: RuleEnforcementRepository
    api_keys: ApiKeyRepository
    rule_states: RuleStateRepository
    credentials: CredentialRepository
    approvals: ApprovalRepository
    audit: AuditRepository
    workflows: WorkflowStateRepository
    leases: LeaseRepository
    outbox: OutboxRepository
    traces: TraceRepository


class BackendStore:
    """The ``Store`` properties of a backend that sets ``_repositories`` while it is open."""

    _repositories: Repositories | None = None
    _keys: Keys | None = None
    _sealed: SealedExecutions | None = None
    _sealed_workflows: SealedWorkflows | None = None

    @property
    def where(self) -> str:
        """The store as error messages name it (file or URL)."""
        raise NotImplementedError

    def _open(self) -> Repositories:
        if self._repositories is None:
            raise StoreError(f"{self.where} is not open")
        return self._repositories

    @property
    def executions(self) -> ExecutionRepository:
        executions = self._open().executions
        if self._keys is None:
            return executions
        if self._sealed is None or self._sealed.inner is not executions:
            self._sealed = SealedExecutions(executions, self._keys)
        return self._sealed

    def seal_with(self, keys: Keys) -> None:
        """From now on executions are written sealed and read opened (core.store.sealing)."""
        self._keys = keys
        self.trigger_instances.seal = functools.partial(seal_execution, keys=keys)

    @property
    def workflows(self) -> WorkflowStateRepository:
        workflows = self._open().workflows
        if self._keys is None:
            return workflows
        # One wrapper per repository, as for executions: a new one per access cost every
        # workflow step a new timed proxy (core.observe.store_timing) and its metric lookups.
        sealed = self._sealed_workflows
        if sealed is None or sealed.inner is not workflows or sealed.keys is not self._keys:
            sealed = self._sealed_workflows = SealedWorkflows(workflows, self._keys)
        return sealed

    @property
    def kv(self) -> KeyValueRepository:
        return self._open().kv

    @property
    def trigger_instances(self) -> SealableTriggerInstances:
        return self._open().trigger_instances

    @property
    def rule_enforcements(self) -> RuleEnforcementRepository:
        return self._open().rule_enforcements

    @property
    def api_keys(self) -> ApiKeyRepository:
        return self._open().api_keys

    @property
    def rule_states(self) -> RuleStateRepository:
        return self._open().rule_states

    @property
    def credentials(self) -> CredentialRepository:
        return self._open().credentials

    @property
    def approvals(self) -> ApprovalRepository:
        return self._open().approvals

    @property
    def audit(self) -> AuditRepository:
        return self._open().audit

    @property
    def leases(self) -> LeaseRepository:
        return self._open().leases

    @property
    def outbox(self) -> OutboxRepository:
        return self._open().outbox

    @property
    def traces(self) -> TraceRepository:
        return self._open().traces

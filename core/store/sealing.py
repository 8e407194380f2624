"""Executions at rest hold no secret in clear (security.md rows 26 and 53).

An execution carries, in memory only, the secret strings it was given (``Execution.secrets``:
values of ``secret: true`` parameters and ``decrypt_kv`` results). Before a document is
written, every parameter holding one of them is replaced by ``********`` and the originals go,
with the list of secrets, into one AES-GCM token under the datastore key (``context.sealed``);
the result and context have each secret string replaced by ``********`` (stdout that echoes a
password included). Reading opens the token again, so a worker — in this process or after a
restart — runs with the real values, while the database file, its WAL and a backup of them
never show them. The result stays masked: nothing needs its secret back.

Workflow state is sealed the same way (``SealedWorkflows``): the workflow shell lists the
secrets it knows (its secret inputs, every ``decrypt_kv`` / ``st2kv(..., decrypt=true)`` value
it evaluated) under ``head["secrets"]``; the head and every record holding one of them are
written as a scrubbed copy plus one token of the original, and opened again on load, so a
workflow carried on after a restart publishes and passes on the real values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from core.kv.crypto import Keys, decrypt, encrypt
from core.kv.decrypted import holding
from core.models import MASK, Execution, ExecutionStatus
from core.observe.secrets import report_secrets
from core.store.base import (
    ExecutionQuery,
    ExecutionRepository,
    StateWrite,
    StepWrite,
    StepWritten,
    StoredWorkflow,
    WorkflowRecord,
    WorkflowStateRepository,
)

__all__ = [
    "SEALED",
    "SECRETS",
    "SealedExecutions",
    "SealedWorkflows",
    "open_execution",
    "scrub",
    "seal_execution",
]

SEALED = "sealed"  # context key of the token
SECRETS = "secrets"  # workflow head key: the secret strings the workflow holds (sealed)
# Key of the token in a sealed workflow document; unlike an execution's context, a record is a
# pack author's variables (one may be called ``sealed``), hence the unlikely name.
DOC_SEALED = "__squall_sealed__"
_SCOPE = "system"


def scrub(value: Any, secrets: Sequence[str]) -> Any:
    """``value`` with every occurrence of each secret string replaced by ``********``."""
    if isinstance(value, str):
        for secret in secrets:
            if secret and secret in value:
                value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {scrub(k, secrets): scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v, secrets) for v in value]
    return value


def _name(execution_id: str) -> str:
    return f"execution:{execution_id}"


def seal_execution(execution: Execution, keys: Keys) -> Execution:
    """The document to store: secrets masked, the originals inside one token."""
    secrets = sorted({s for s in execution.secrets if s}, key=lambda s: (-len(s), s))
    if not secrets:
        return execution
    names = holding(execution.parameters, secrets)
    payload = {"secrets": secrets, "parameters": {n: execution.parameters[n] for n in names}}
    token = encrypt(keys, json.dumps(payload), name=_name(execution.id), scope=_SCOPE)
    context = {**scrub(execution.context, secrets), SEALED: token}
    return replace(
        execution,
        parameters={**execution.parameters, **dict.fromkeys(names, MASK)},
        result=scrub(execution.result, secrets),
        context=context,
        secrets=(),
    )


def open_execution(execution: Execution, keys: Keys) -> Execution:
    """A stored execution with its secret parameters back (``DecryptionError`` if tampered)."""
    token = execution.context.get(SEALED)
    if not isinstance(token, str):
        return execution
    payload = json.loads(decrypt(keys, token, name=_name(execution.id), scope=_SCOPE))
    report_secrets(payload["secrets"])  # after a restart too, the log masks them
    context = {k: v for k, v in execution.context.items() if k != SEALED}
    return replace(
        execution,
        parameters={**execution.parameters, **payload["parameters"]},
        context=context,
        secrets=tuple(payload["secrets"]),
    )


class SealedExecutions:
    """An ``ExecutionRepository`` that seals what it writes and opens what it reads."""

    def __init__(self, inner: ExecutionRepository, keys: Keys) -> None:
        self.inner = inner
        self.keys = keys

    def _open(self, execution: Execution | None) -> Execution | None:
        return None if execution is None else open_execution(execution, self.keys)

    async def insert(self, execution: Execution) -> None:
        await self.inner.insert(seal_execution(execution, self.keys))

    async def get(self, execution_id: str) -> Execution | None:
        return self._open(await self.inner.get(execution_id))

    async def list(self, query: ExecutionQuery) -> list[Execution]:
        return [open_execution(e, self.keys) for e in await self.inner.list(query)]

    async def count(self, query: ExecutionQuery) -> int:
        return await self.inner.count(query)

    async def replace(self, execution: Execution, *, expected_status: ExecutionStatus) -> bool:
        sealed = seal_execution(execution, self.keys)
        return await self.inner.replace(sealed, expected_status=expected_status)

    async def claim(self, owner: str, lease_until: datetime, now: datetime) -> Execution | None:
        return self._open(await self.inner.claim(owner, lease_until, now))

    async def renew_lease(self, execution_id: str, owner: str, lease_until: datetime) -> bool:
        return await self.inner.renew_lease(execution_id, owner, lease_until)

    async def delete_completed_before(self, cutoff: datetime) -> int:
        return await self.inner.delete_completed_before(cutoff)

    def __getattr__(self, name: str) -> Any:  # backend extras (tests, tools) pass through
        return getattr(self.inner, name)


def _ordered(secrets: Sequence[str]) -> list[str]:
    # Longest first, so a secret containing another is masked whole.
    return sorted({s for s in secrets if isinstance(s, str) and s}, key=lambda s: (-len(s), s))


def seal_document(
    doc: dict[str, Any], secrets: Sequence[str], keys: Keys, name: str
) -> dict[str, Any]:
    """``doc`` as stored: unchanged without a secret in it, else scrubbed plus a token of it."""
    masked = scrub(doc, secrets)
    if masked == doc:
        return doc
    token = encrypt(keys, json.dumps(doc, default=str), name=name, scope=_SCOPE)
    return {**masked, DOC_SEALED: token}


def open_document(doc: dict[str, Any], keys: Keys, name: str) -> dict[str, Any]:
    """A stored document as written before sealing (``DecryptionError`` if tampered)."""
    token = doc.get(DOC_SEALED)
    if not isinstance(token, str):
        return doc
    opened: dict[str, Any] = json.loads(decrypt(keys, token, name=name, scope=_SCOPE))
    return opened


def _head_name(workflow_id: str) -> str:
    return f"workflow:{workflow_id}"


def _record_name(workflow_id: str, kind: str, key: str) -> str:
    return f"workflow:{workflow_id}:{kind}:{key}"


class SealedWorkflows:
    """A ``WorkflowStateRepository`` that seals what holds a secret and opens it on load."""

    def __init__(self, inner: WorkflowStateRepository, keys: Keys) -> None:
        self.inner = inner
        self.keys = keys

    def _seal(
        self, workflow_id: str, head: dict[str, Any], records: Sequence[WorkflowRecord]
    ) -> tuple[dict[str, Any], list[WorkflowRecord]]:
        secrets = _ordered(head.get(SECRETS) or [])
        if not secrets:
            return head, list(records)
        # The head always carries the list, so it is always sealed when there is one.
        keys = self.keys
        token = encrypt(keys, json.dumps(head, default=str), name=_head_name(workflow_id),
                        scope=_SCOPE)  # fmt: skip
        sealed_head = {k: scrub(v, secrets) for k, v in head.items() if k != SECRETS}
        sealed_head[DOC_SEALED] = token
        sealed = [
            WorkflowRecord(r.kind, r.key, seal_document(
                r.doc, secrets, keys, _record_name(workflow_id, r.kind, r.key)))
            for r in records
        ]  # fmt: skip
        return sealed_head, sealed

    async def create(
        self, workflow_id: str, head: dict[str, Any], records: Sequence[WorkflowRecord]
    ) -> bool:
        head, sealed = self._seal(workflow_id, head, records)
        return await self.inner.create(workflow_id, head, sealed)

    async def load(self, workflow_id: str) -> StoredWorkflow | None:
        stored = await self.inner.load(workflow_id)
        if stored is None:
            return None
        head = open_document(stored.head, self.keys, _head_name(workflow_id))
        report_secrets(head.get(SECRETS) or ())
        records = tuple(
            WorkflowRecord(r.kind, r.key, open_document(
                r.doc, self.keys, _record_name(workflow_id, r.kind, r.key)))
            for r in stored.records
        )  # fmt: skip
        return replace(stored, head=head, records=records)

    async def save(self, workflow_id: str, state: StateWrite) -> bool:
        head, sealed = self._seal(workflow_id, state.head, state.records)
        return await self.inner.save(workflow_id, replace(state, head=head, records=sealed))

    async def save_step(self, workflow_id: str, step: StepWrite) -> StepWritten:
        head, sealed = self._seal(workflow_id, step.head, step.records)
        keys = self.keys
        ends = [replace(c, execution=seal_execution(c.execution, keys)) for c in step.completed]
        children = [seal_execution(child, keys) for child in step.children]
        sealed_step = replace(step, head=head, records=sealed, children=children, completed=ends)
        return await self.inner.save_step(workflow_id, sealed_step)

    async def compact(self, workflow_id: str) -> int:
        return await self.inner.compact(workflow_id)

    async def delete(self, workflow_ids: Sequence[str]) -> int:
        return await self.inner.delete(workflow_ids)

    def __getattr__(self, name: str) -> Any:  # backend extras (tests, tools) pass through
        return getattr(self.inner, name)

"""Executions at rest hold no secret in clear (security.md rows 26 and 53).

An execution carries, in memory only, the secret strings it was given (``Execution.secrets``:
values of ``secret: true`` parameters and ``decrypt_kv`` results). Before a document is
written, every parameter holding one of them is replaced by ``********`` and the originals go,
with the list of secrets, into one AES-GCM token under the datastore key (``context.sealed``);
the result and context have each secret string replaced by ``********`` (stdout that echoes a
password included). Reading opens the token again, so a worker — in this process or after a
restart — runs with the real values, while the database file, its WAL and a backup of them
never show them. The result stays masked: nothing needs its secret back.
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
from core.store.base import ExecutionQuery, ExecutionRepository

__all__ = ["SEALED", "SealedExecutions", "open_execution", "scrub", "seal_execution"]

SEALED = "sealed"  # context key of the token
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

"""Parameters that hold decrypted datastore secrets, so they are masked like ``secret: true``.

``{{ st2kv.system.pw | decrypt_kv }}`` may land in a parameter its action does not declare
secret. The filter reports each plaintext it produces to the recorder active around rendering;
the names of the parameters containing one are kept in the execution context (names only, never
values) under ``DECRYPTED_PARAMETERS``, and the API treats them as secret.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from core.observe.secrets import report_secrets

# Context key: parameter names whose value came (partly) out of ``decrypt_kv``.
DECRYPTED_PARAMETERS = "decrypted_parameters"

_RECORDER: ContextVar[list[str] | None] = ContextVar("squall_decrypted_values", default=None)


@contextmanager
def recording_decryptions() -> Iterator[list[str]]:
    """Collect the plaintexts ``decrypt_kv`` produces inside the block (this task only)."""
    found: list[str] = []
    token = _RECORDER.set(found)
    try:
        yield found
    finally:
        _RECORDER.reset(token)


def record_decryption(plaintext: str) -> None:
    report_secrets((plaintext,))  # masked in the process log from now on
    found = _RECORDER.get()
    if found is not None and plaintext:
        found.append(plaintext)


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _texts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)


def holding(parameters: Mapping[str, Any], plaintexts: Iterable[str]) -> list[str]:
    """Names of ``parameters`` whose value contains any of ``plaintexts``, sorted."""
    secrets = [p for p in plaintexts if p]
    return sorted(
        name
        for name, value in parameters.items()
        if any(secret in text for text in _texts(value) for secret in secrets)
    )


def occurring(value: Any, plaintexts: Iterable[str]) -> list[str]:
    """Those of ``plaintexts`` found somewhere in ``value`` (its keys included)."""
    texts = list(_texts(value))
    return [p for p in plaintexts if p and any(p in text for text in texts)]


def mark_decrypted(
    context: Mapping[str, Any], parameters: Mapping[str, Any], plaintexts: Iterable[str]
) -> dict[str, Any]:
    """``context`` plus the names of the parameters holding decrypted values (if any)."""
    names = holding(parameters, plaintexts)
    if not names:
        return dict(context)
    known = list(context.get(DECRYPTED_PARAMETERS) or [])
    return {**context, DECRYPTED_PARAMETERS: sorted({*known, *names})}


def with_decrypted_as_secret(
    schema: Mapping[str, Any], context: Mapping[str, Any]
) -> dict[str, Any]:
    """``schema`` with every parameter named in the context's list marked ``secret: true``."""
    names = context.get(DECRYPTED_PARAMETERS) or []
    merged = dict(schema)
    for name in names:
        if isinstance(name, str):
            merged[name] = {**(merged.get(name) or {}), "secret": True}
    return merged

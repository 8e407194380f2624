"""Store latency and errors for ``/metrics``: a thin proxy around any Store backend.

Every coroutine method of every repository is timed into ``squall_store_operation_seconds``
with ``operation="<repository>.<method>"`` (a fixed vocabulary: the Store protocol's methods)
and counted in ``squall_store_errors_total`` when it raises. Everything else (lifecycle,
backend attributes) passes straight through. The wrapped methods are made once per repository
object, so a call costs two clock reads and one histogram observation.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from core.observe.metrics import STORE_ERRORS, STORE_OPERATION
from core.store.base import Store

# The Store protocol's repositories (properties); a backend's extras pass through untimed.
REPOSITORIES = frozenset(
    name
    for name, member in inspect.getmembers(Store)
    if isinstance(member, property) and not name.startswith("_")
)


def timed(store: Store) -> Store:
    """``store`` with its repository calls measured."""
    return cast(Store, _TimedStore(store))


class _TimedStore:
    def __init__(self, inner: Store) -> None:
        self._inner = inner
        self._wrapped: dict[str, _TimedRepository] = {}

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if name not in REPOSITORIES:
            return value
        cached = self._wrapped.get(name)
        if cached is None or cached.inner is not value:  # reopened: new repository objects
            cached = self._wrapped[name] = _TimedRepository(value, self._inner.backend, name)
        return cached


class _TimedRepository:
    def __init__(self, inner: Any, backend: str, name: str) -> None:
        self.inner = inner
        self._backend = backend
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self.inner, attr)
        if not inspect.iscoroutinefunction(value):
            return value
        wrapper = _timed_call(value, self._backend, f"{self._name}.{attr}")
        setattr(self, attr, wrapper)  # next lookups skip __getattr__
        return wrapper


def _timed_call(
    call: Callable[..., Awaitable[Any]], backend: str, operation: str
) -> Callable[..., Awaitable[Any]]:
    latency = STORE_OPERATION.labels(backend, operation)
    errors = STORE_ERRORS.labels(backend, operation)

    async def measured(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await call(*args, **kwargs)
        except Exception:
            errors.inc()
            raise
        finally:
            latency.observe(time.perf_counter() - started)

    return measured

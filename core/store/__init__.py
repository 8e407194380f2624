"""Store factory: the one place that maps a ``store.url`` to a backend."""

from __future__ import annotations

from core.store.base import (
    DocumentRejected,
    ExecutionQuery,
    ExecutionRepository,
    Store,
    StoreError,
)

__all__ = [
    "DocumentRejected",
    "ExecutionQuery",
    "ExecutionRepository",
    "Store",
    "StoreError",
    "open_store",
]


def open_store(url: str, *, base_dir: str | None = None, driver: str = "motor") -> Store:
    """Build (not yet open) a store for ``url``: ``sqlite:///path`` or ``mongodb://…``.

    Relative SQLite paths resolve against ``base_dir`` (the config file's folder); ``driver``
    picks the MongoDB client (``motor`` or ``pymongo-async``).
    """
    if url.startswith("sqlite://"):
        from core.store.sqlite import SqliteStore

        return SqliteStore.from_url(url, base_dir=base_dir)
    if url.startswith(("mongodb://", "mongodb+srv://", "mongomock://")):
        from core.store.mongo import MongoStore

        return MongoStore.from_url(url, driver=driver)
    raise StoreError(f"store.url: unsupported scheme in {url!r} (use sqlite:/// or mongodb://)")

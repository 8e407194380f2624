"""This process's part in a cluster of ``squall serve`` processes sharing one store.

``Cluster`` knows the process's roles (``cluster.roles`` / ``serve --roles``) and keeps its
leases (core.leases.LeaseKeeper): ``timers`` (the timer rules fire in one process),
``chat:<adapter>`` (one process connects each chat platform) and, for the sensors of issue 14,
``sensors``. A lone process takes every lease at its first attempt, so nothing changes for it.
``describe`` is what ``/readyz`` and ``squall doctor`` show: who holds which lease.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.settings.schema import ClusterSettings
from core.leases import Hook, LeaseKeeper
from core.models.execution import isoformat
from core.store import Store


class Cluster:
    def __init__(
        self,
        store: Store,
        settings: ClusterSettings,
        holder: str,
        *,
        now: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.settings = settings
        self.holder = holder
        self.now = now
        self.keepers: dict[str, LeaseKeeper] = {}

    def keeper(self, name: str, on_gain: Hook, on_loss: Hook) -> LeaseKeeper:
        """A keeper for lease ``name`` (not started), listed in ``describe``."""
        keeper = LeaseKeeper(
            self.store.leases,
            name,
            self.holder,
            ttl=self.settings.lease_seconds,
            renew=self.settings.renew_seconds,
            now=self.now,
            on_gain=on_gain,
            on_loss=on_loss,
        )
        self.keepers[name] = keeper
        return keeper

    def holds(self, name: str) -> bool:
        keeper = self.keepers.get(name)
        return keeper is not None and keeper.held

    async def describe(self) -> dict[str, Any]:
        """This process, its roles, and every lease in the store with its holder."""
        now = self.now()
        leases = [
            {
                "name": lease.name,
                "holder": lease.holder,
                "mine": lease.holder == self.holder,
                "live": lease.is_live(now),
                "expires": isoformat(lease.expires),
                "since": isoformat(lease.acquired_at),
            }
            for lease in await self.store.leases.list()
        ]
        return {
            "process": self.holder,
            "roles": list(self.settings.roles),
            "leases": leases,
            "outbox": await self.store.outbox.count(),
        }

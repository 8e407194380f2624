"""Refused webhook deliveries in the audit log (kind ``webhook.refuse``): the hook, the status,
the short reason and the caller-safe message, the sender's address and time — never the body,
headers or signature. At most ``per_minute`` are written a minute, so a flood of bad deliveries
cannot turn into a flood of store writes; the next record says how many were left out."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.authz.audit import AuditLog

KIND = "webhook.refuse"


@dataclass
class RefusalLog:
    audit: AuditLog
    per_minute: int = 60
    clock: Callable[[], float] = time.monotonic
    _window_start: float = field(default=0.0, init=False)
    _written: int = field(default=0, init=False)
    _left_out: int = field(default=0, init=False)

    def _admit(self) -> bool:
        now = self.clock()
        if now - self._window_start >= 60.0:
            self._window_start, self._written = now, 0
        if self._written >= self.per_minute:
            self._left_out += 1
            return False
        self._written += 1
        return True

    async def refused(
        self, hook: str, status: int, reason: str, message: str, remote: str | None
    ) -> None:
        if not self._admit():
            return
        left_out, self._left_out = self._left_out, 0
        await self.audit.record(
            KIND,
            user=None,
            identity=None,
            place={"remote": remote or "unknown"},
            subject={"hook": hook[:200]},
            allowed=False,
            reason=message[:500],
            details={"status": status, "reason": reason, "left_out_before": left_out},
        )

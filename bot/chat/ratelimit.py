"""Per-user rate limit for chat commands: a token bucket per Squall user. Pure; the clock is
passed in, so tests need not wait."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateLimiter", "Verdict"]


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    # Seconds until the next command would be allowed (0 when allowed).
    retry_after: float = 0.0
    # True for the first refusal since the user was last allowed: tell them once, not each time.
    first_refusal: bool = False


@dataclass
class _Bucket:
    tokens: float
    updated: float
    warned: bool = False


class RateLimiter:
    """``burst`` commands at once, refilled at ``per_minute`` commands a minute."""

    def __init__(self, burst: int, per_minute: float, clock: Callable[[], float]) -> None:
        if burst < 1 or per_minute <= 0:
            raise ValueError("rate limit: burst must be >= 1 and per_minute > 0")
        self.burst = burst
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def check(self, key: str) -> Verdict:
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            bucket.warned = False
            self._forget_full(now)
            return Verdict(True)
        first = not bucket.warned
        bucket.warned = True
        return Verdict(False, (1.0 - bucket.tokens) / self.rate, first)

    def _forget_full(self, now: float) -> None:
        # Buckets that would be full again carry no state worth keeping; bound the memory.
        if len(self._buckets) < 10_000:
            return
        full_after = self.burst / self.rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.updated < full_after}

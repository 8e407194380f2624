"""Failed-login throttle: too many failures for one key (a user name, an address) within a window
lock that key out until the oldest failure leaves the window. Pure: time is passed in."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class LoginThrottle:
    max_failures: int = 5
    window_seconds: float = 300.0
    # Distinct keys remembered at most; the oldest are forgotten first (bounded memory under a
    # spray of made-up user names).
    max_keys: int = 10_000
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until a login for ``key`` may be tried again; 0 when allowed."""
        times = self._recent(key, now)
        if len(times) < self.max_failures:
            return 0.0
        return times[0] + self.window_seconds - now

    def failed(self, key: str, now: float) -> None:
        times = self._recent(key, now)
        times.append(now)
        self._failures[key] = times
        while len(self._failures) > self.max_keys:
            self._failures.pop(next(iter(self._failures)))

    def succeeded(self, user_key: str) -> None:
        self._failures.pop(user_key, None)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key) or deque()
        while times and times[0] <= now - self.window_seconds:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
        return times

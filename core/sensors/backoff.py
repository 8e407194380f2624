"""When to restart a sensor that stopped, and when to give up. Pure."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RestartPolicy:
    initial_seconds: float = 1.0
    max_seconds: float = 60.0
    # A fraction of the delay added or removed at random, so sensors that failed together
    # (a shared dependency went down) do not all come back in the same second.
    jitter: float = 0.2
    # Give up after this many failures within ``window_seconds``.
    max_failures: int = 5
    window_seconds: float = 300.0


@dataclass
class FailureHistory:
    policy: RestartPolicy
    times: deque[float] = field(default_factory=deque)

    def record(self, now: float) -> None:
        self.times.append(now)
        while self.times and self.times[0] <= now - self.policy.window_seconds:
            self.times.popleft()

    @property
    def give_up(self) -> bool:
        return len(self.times) >= self.policy.max_failures

    def delay(self, rng: random.Random) -> float:
        """Exponential in the failures of the window, capped, with jitter."""
        exponent = max(0, len(self.times) - 1)
        base = min(self.policy.max_seconds, self.policy.initial_seconds * 2.0**exponent)
        spread = base * self.policy.jitter
        return max(0.0, base + rng.uniform(-spread, spread))

"""Interactions the Discord adapter is still answering, and forgetting the expired ones."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import discord

# An interaction token edits its messages for 15 minutes; stop using it a little before.
TOKEN_SECONDS: Final = 14 * 60


def _now() -> float:
    return clock()


# Where token ages are read; tests set it to a fake Discord's clock, so nobody waits 15 minutes.
clock: Callable[[], float] = time.monotonic


@dataclass
class Pending:
    """An interaction Squall is answering: its original response is used once, then follow-ups."""

    interaction: discord.Interaction[Any]
    created: float = field(default_factory=_now)
    original_used: bool = False

    @property
    def fresh(self) -> bool:
        return clock() - self.created < TOKEN_SECONDS


def forget_expired(pending: dict[str, Pending], owners: dict[int, tuple[Pending, bool]]) -> None:
    """Drop interactions whose token expired (their messages are then edited through the
    channel), so neither map grows with every command ever answered."""
    for key in [key for key, known in pending.items() if not known.fresh]:
        del pending[key]
    for message_id in [mid for mid, (known, _) in owners.items() if not known.fresh]:
        del owners[message_id]

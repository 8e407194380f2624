"""The runner contract: ``async run(ctx) -> RunnerResult``, with a complete context up front."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.models import Action, ExecutionStatus, RunnerType

# Called with the process group id as soon as a runner's subprocess starts, so the service can
# persist it and startup recovery can kill a group a dead Squall left behind.
ProcessStarted = Callable[[int], Awaitable[None]]
# Called with ("stdout" | "stderr", text) for each chunk a subprocess writes, as it writes it
# (``st2 execution tail``); must be cheap and must not raise.
OutputSeen = Callable[[str, str], None]


@dataclass(frozen=True)
class RunContext:
    execution_id: str
    action: Action
    runner_parameters: Mapping[str, Any]
    action_parameters: Mapping[str, Any]
    pack_config: Mapping[str, Any] = field(default_factory=dict)
    output_limit_bytes: int = 1_048_576
    # Set by the service to ask the runner to stop; the runner kills its process group and
    # returns status ``canceled``.
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    on_process_start: ProcessStarted | None = None
    on_output: OutputSeen | None = None
    # ``ST2_ACTION_*`` variables and anything else the service wants every subprocess to see.
    env: Mapping[str, str] = field(default_factory=dict)
    context: Mapping[str, Any] = field(default_factory=dict)

    @property
    def timeout(self) -> float | None:
        value = self.runner_parameters.get("timeout")
        return float(value) if value else None


@dataclass(frozen=True)
class RunnerResult:
    status: ExecutionStatus
    result: dict[str, Any]

    @classmethod
    def failed(cls, error: str) -> RunnerResult:
        """A failure the runner explains in ``result.error`` (bad input, nothing to run on)."""
        return cls(ExecutionStatus.FAILED, {"error": error})


def runs_in_memory(runner: Runner) -> bool:
    """Whether ``runner`` touches nothing outside this process and ends at once (``noop``):
    running it twice is the same as running it once, and it never calls the API back. Its
    ``running`` status is then not stored (requested → completed is one write: if the process
    dies in between, the execution is still ``requested`` and runs after the restart), and it
    gets no action token (two writes it would never use)."""
    return bool(getattr(runner, "in_memory", False))


class Runner(Protocol):
    runner_type: RunnerType

    async def run(self, ctx: RunContext) -> RunnerResult: ...

    async def close(self) -> None:
        """Release long-lived resources (client sessions, warmed interpreters)."""

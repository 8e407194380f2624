"""``noop``: succeeds without doing anything (§2.4)."""

from __future__ import annotations

from core.models import ExecutionStatus, RunnerType
from core.runners.base import RunContext, RunnerResult
from core.runners.types import NOOP


class NoopRunner:
    runner_type: RunnerType = NOOP
    in_memory = True  # core.runners.base.runs_in_memory

    async def run(self, ctx: RunContext) -> RunnerResult:
        result = {"failed": False, "succeeded": True, "return_code": 0}
        return RunnerResult(ExecutionStatus.SUCCEEDED, result)

    async def close(self) -> None:
        """Nothing to release."""

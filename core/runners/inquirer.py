"""The ``inquirer`` runner (``core.ask``): asks, and leaves the execution ``pending`` until an
answer arrives (core.approvals.inquiries ends it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.models import ExecutionStatus
from core.runners.base import RunContext, RunnerResult
from core.runners.types import INQUIRER

if TYPE_CHECKING:
    from core.approvals.inquiries import InquiryService


class InquirerRunner:
    runner_type = INQUIRER

    def __init__(self) -> None:
        self._inquiries: InquiryService | None = None

    def connect(self, inquiries: InquiryService) -> None:
        self._inquiries = inquiries

    async def run(self, ctx: RunContext) -> RunnerResult:
        if self._inquiries is None:
            return RunnerResult.failed("inquiries are not available")
        result = await self._inquiries.ask(ctx.execution_id, ctx.runner_parameters)
        return RunnerResult(ExecutionStatus.PENDING, result)

    async def close(self) -> None:
        """Nothing to release."""

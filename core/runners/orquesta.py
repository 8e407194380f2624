"""The ``orquesta`` runner: hands the workflow execution to the workflow engine, which keeps
it running (the service leaves it ``running``) and completes it when the workflow ends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.runners.base import RunContext, RunnerResult
from core.runners.types import ORQUESTA

if TYPE_CHECKING:
    from core.workflows.engine import WorkflowEngine


class OrquestaRunner:
    runner_type = ORQUESTA

    def __init__(self) -> None:
        self._engine: WorkflowEngine | None = None

    def connect(self, engine: WorkflowEngine) -> None:
        self._engine = engine

    async def run(self, ctx: RunContext) -> RunnerResult:
        if self._engine is None:
            return RunnerResult.failed("no workflow engine")
        return await self._engine.start(ctx.execution_id)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.close()

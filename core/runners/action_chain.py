"""The ``action-chain`` runner: hands the chain to the chain engine, which keeps it running
(the service leaves it ``running``) and completes it when its last task is done."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.runners.base import RunContext, RunnerResult
from core.runners.types import ACTION_CHAIN

if TYPE_CHECKING:
    from core.chains.engine import ChainEngine


class ActionChainRunner:
    runner_type = ACTION_CHAIN

    def __init__(self) -> None:
        self._engine: ChainEngine | None = None

    def connect(self, engine: ChainEngine) -> None:
        self._engine = engine

    async def run(self, ctx: RunContext) -> RunnerResult:
        if self._engine is None:
            return RunnerResult.failed("no action-chain engine")
        return await self._engine.start(ctx.execution_id)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.close()

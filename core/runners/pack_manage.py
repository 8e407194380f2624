"""``pack-manage``: the in-process runner behind the bundled ``packs`` pack.

Installing a pack means writing into the packs path and reloading the content of the running
server, which only ``squall serve`` can do (core cannot reach it), so the bot connects a
``PackManager`` at startup, as it does for ``chat-post``. Elsewhere (``squall run``) the action
fails and says to use ``squall pack install|remove``.

The result is shaped as st2's ``packs.install`` workflow output, which ``st2 pack install``
reads: ``{"packs_list": [refs], "warning_list": [texts]}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.models import ExecutionStatus, RunnerType
from core.runners.base import RunContext, RunnerResult
from core.runners.types import PACK_MANAGE


@dataclass(frozen=True)
class PackChange:
    """What an install or removal did: the pack refs, and warnings for the user."""

    packs: list[str]
    warnings: list[str] = field(default_factory=list)


class PackManager(Protocol):
    async def install(self, sources: Sequence[str], *, force: bool) -> PackChange:
        """Install every source (all checked first) and load them; raise with a clear message."""

    async def uninstall(self, refs: Sequence[str]) -> PackChange:
        """Remove the installed packs and unload them; raise with a clear message."""


class PackManageInputError(ValueError):
    """``packs`` is not a non-empty list of strings."""


def pack_names(parameters: dict[str, Any]) -> list[str]:
    packs = parameters.get("packs")
    if isinstance(packs, str):
        packs = [packs]
    if not isinstance(packs, list) or not packs:
        raise PackManageInputError("parameter 'packs' must be a non-empty list")
    if not all(isinstance(p, str) and p.strip() for p in packs):
        raise PackManageInputError("parameter 'packs' must hold non-empty strings")
    return [p.strip() for p in packs]


class PackManageRunner:
    runner_type: RunnerType = PACK_MANAGE

    def __init__(self) -> None:
        self._manager: PackManager | None = None

    def connect(self, manager: PackManager) -> None:
        """Given by ``squall serve`` once its content reloads exist."""
        self._manager = manager

    async def run(self, ctx: RunContext) -> RunnerResult:
        if self._manager is None:
            return RunnerResult.failed(
                "packs can only be installed or removed by an execution inside `squall serve`; "
                "on the host use `squall pack install|remove`"
            )
        operation = ctx.runner_parameters.get("operation") or "install"
        try:
            names = pack_names(dict(ctx.action_parameters))
            if operation == "uninstall":
                done = await self._manager.uninstall(names)
            else:
                force = bool(ctx.action_parameters.get("force"))
                done = await self._manager.install(names, force=force)
        except Exception as exc:  # a bad source, an invalid pack: the execution says why
            return RunnerResult.failed(f"pack {operation} failed: {exc}")
        result = {"packs_list": done.packs, "warning_list": done.warnings}
        return RunnerResult(ExecutionStatus.SUCCEEDED, result)

    async def close(self) -> None:
        """Nothing to release: the manager belongs to the bot."""

"""What the execution service calls out to: observers of every change, the action token
issuer, and controllers of runner types whose executions outlive ``run()`` (workflows)."""

from __future__ import annotations

from typing import Protocol

from core.models import Execution


class ExecutionObserver(Protocol):
    """Sees every execution this process creates or changes, synchronously and in order (the
    event stream). Must be cheap and must not raise."""

    def created(self, execution: Execution) -> None: ...

    def updated(self, execution: Execution) -> None: ...

    def output(self, execution: Execution, output_type: str, text: str) -> None: ...


class ActionTokens(Protocol):
    """Issues the short-lived ``ST2_ACTION_AUTH_TOKEN`` of a running execution and revokes it
    when the runner returns."""

    async def issue(self, execution: Execution) -> tuple[str, object]: ...

    async def revoke(self, handle: object) -> None: ...


class Controller(Protocol):
    """Runs executions of a runner type that live past ``run()`` (workflows): the service
    records a cancel, pause or resume request in the execution's status, then tells it."""

    async def cancel(self, execution: Execution) -> None: ...

    async def pause(self, execution: Execution) -> None: ...

    async def resume(self, execution: Execution) -> None: ...

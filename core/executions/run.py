"""Running one scheduled execution through its runner, persisting every step."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.executions.api import parameter_schema, scrub
from core.executions.hooks import ActionTokens, ExecutionObserver
from core.executions.owner import OwnerId
from core.executions.pgid import ProcessGroupRecord
from core.kv.decrypted import with_decrypted_as_secret
from core.models import Action, Execution, ExecutionStatus
from core.packs import ContentIndex
from core.params import secret_values
from core.runners.base import RunContext, Runner, RunnerResult, runs_in_memory
from core.runners.types import RUNNER_TYPES
from core.store import DocumentRejected, Store, StoreError

logger = logging.getLogger(__name__)
S = ExecutionStatus
FINISH_RETRY_FIRST = 0.5
FINISH_RETRY_MAX = 10.0
SHUTDOWN_ERROR = "Squall shut down before the execution finished."


@dataclass
class RunningExecution:
    execution_id: str
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    # Set at shutdown: the runner is stopped like a cancel, but the end status is ``abandoned``.
    abandon: bool = False


class RunOptions(Protocol):
    @property
    def api_url(self) -> str: ...

    @property
    def output_limit_bytes(self) -> int: ...


class RunHost(Protocol):
    """What running an execution needs of the execution service (core.executions.service)."""

    @property
    def store(self) -> Store: ...

    @property
    def index(self) -> ContentIndex: ...

    @property
    def runners(self) -> Mapping[str, Runner]: ...

    @property
    def options(self) -> RunOptions: ...

    @property
    def owner(self) -> OwnerId: ...

    @property
    def observers(self) -> Sequence[ExecutionObserver]: ...

    @property
    def action_tokens(self) -> ActionTokens | None: ...

    def observe_output(self, execution: Execution, output_type: str, text: str) -> None: ...

    async def cas(
        self, current: Execution, status: ExecutionStatus, **changes: Any
    ) -> Execution | None: ...

    async def finish(self, current: Execution, outcome: RunnerResult) -> Execution | None: ...


def split_parameters(
    action: Action, parameters: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(runner parameters, action parameters); a name both declare belongs to the runner."""
    runner_names = RUNNER_TYPES[action.runner_type].parameters
    runner = {k: v for k, v in parameters.items() if k in runner_names}
    action_params = {k: v for k, v in parameters.items() if k not in runner_names}
    return runner, action_params


def action_env(service: RunHost, action: Action, execution: Execution) -> dict[str, str]:
    return {
        "ST2_ACTION_PACK_NAME": action.pack,
        "ST2_ACTION_EXECUTION_ID": execution.id,
        "ST2_ACTION_API_URL": service.options.api_url,
        "ST2_ACTION_DEBUG": "0",
    }


async def run_execution(
    service: RunHost, scheduled: Execution, running: RunningExecution
) -> Execution | None:
    action = service.index.actions.get(scheduled.action_ref)
    if action is None or action.runner_type not in service.runners:
        error = f"action {scheduled.action_ref} is no longer available"
        return await service.cas(scheduled, S.FAILED, result={"error": error})
    current: Execution | None = scheduled
    if scheduled.status is not S.RUNNING:  # else started by ``start_soon`` in one write
        current = await service.cas(scheduled, S.RUNNING, owner=str(service.owner))
    if current is None:
        return None  # canceled (or taken) between scheduling and start
    latest = [current]  # what the store holds, as far as this task wrote it
    outcome = await run_runner(service, action, latest, running)
    if outcome.status is S.RUNNING:
        return None  # the runner's controller (the workflow engine) finishes it later
    if outcome.status is S.CANCELED and running.abandon:
        outcome = RunnerResult(S.ABANDONED, {**outcome.result, "error": SHUTDOWN_ERROR})
    # No re-read: a status someone else changed meanwhile (a cancel) fails this CAS, and
    # ``finish`` reads the store only then.
    return await finish_durably(service, latest[0], outcome)


async def finish_durably(
    service: RunHost, current: Execution, outcome: RunnerResult
) -> Execution | None:
    """Record the outcome even through a store outage (a MongoDB election that outlasts the
    driver's own retry): an execution whose command has finished must not stay ``running``.

    Retried with backoff until the store answers (a shutdown cancels the wait). A write that
    landed although its call failed shows as a changed status on the next read: that is the
    answer then.
    """
    delay = FINISH_RETRY_FIRST
    while True:
        try:
            return await service.finish(current, outcome)
        except DocumentRejected:
            raise  # never from finish (the service stores a marker instead); no retry helps
        except StoreError as exc:
            logger.warning("execution %s: could not record its outcome yet: %s", current.id, exc)
        await asyncio.sleep(delay)
        delay = min(delay * 2, FINISH_RETRY_MAX)
        try:
            stored = await service.store.executions.get(current.id)
        except StoreError:
            continue
        if stored is None or stored.status is not current.status:
            return stored


async def run_runner(
    service: RunHost,
    action: Action,
    latest: list[Execution],
    running: RunningExecution,
) -> RunnerResult:
    current = latest[0]
    runner_params, action_params = split_parameters(action, current.parameters)
    pack = service.index.packs.get(action.pack)

    group = ProcessGroupRecord(service.store.executions, latest)
    output = _LiveOutput(service, action, current)
    env = action_env(service, action, current)
    token_handle: object = None
    runner = service.runners[action.runner_type]
    if service.action_tokens is not None and not runs_in_memory(runner):
        # The action calls the API back as the execution's user; the token dies with the run.
        env["ST2_ACTION_AUTH_TOKEN"], token_handle = await service.action_tokens.issue(current)
    ctx = RunContext(
        execution_id=current.id,
        action=action,
        runner_parameters=runner_params,
        action_parameters=action_params,
        pack_config=pack.config if pack else {},
        output_limit_bytes=service.options.output_limit_bytes,
        cancel=running.cancel,
        on_process_start=group.started,
        on_output=output.seen if service.observers else None,
        env=env,
        context=current.context,
    )
    try:
        return await runner.run(ctx)
    except Exception as exc:  # a runner bug must end the execution, not leave it running
        logger.exception("runner %s failed on %s", action.runner_type, current.id)
        return RunnerResult(
            S.FAILED, {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        )
    finally:
        await group.settle()
        if service.action_tokens is not None and token_handle is not None:
            await service.action_tokens.revoke(token_handle)


class _LiveOutput:
    """Output chunks to the observers (``st2 execution tail``), secret values masked; the
    values are looked up at the first chunk, not for every run (most print nothing live)."""

    def __init__(self, service: RunHost, action: Action, execution: Execution) -> None:
        self._service = service
        self._action = action
        self._execution = execution
        self._secrets: list[str] | None = None

    def seen(self, output_type: str, text: str) -> None:
        if self._secrets is None:
            self._secrets = output_secrets(self._action, self._execution)
        self._service.observe_output(self._execution, output_type, scrub(text, self._secrets))


def output_secrets(action: Action, execution: Execution) -> list[str]:
    """Secret parameter values, masked in live output as they are in results."""
    schema = with_decrypted_as_secret(parameter_schema(action), execution.context)
    return [s for s in secret_values(schema, execution.parameters) if s]

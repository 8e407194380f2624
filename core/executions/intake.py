"""Intake: a request for an action becomes a stored execution — validated, its parameters
rendered (datastore, secrets masked), admitted by the caller, held for approval or released."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypedDict, Unpack

from core.executions.changes import ExecutionError, S
from core.executions.dispatch import ExecutionDispatch
from core.kv.decrypted import (
    DECRYPTED_PARAMETERS,
    mark_decrypted,
    occurring,
    recording_decryptions,
)
from core.kv.lookup import kv_context
from core.models import Action, Execution, ExecutionStatus
from core.observe.secrets import report_secrets
from core.params import resolve_parameters, secret_values
from core.policies.retry import RetryRequest
from core.runners.types import RUNNER_TYPES

logger = logging.getLogger(__name__)

# Sees the resolved parameters of a request before it is stored; raises to refuse it.
# ``admit(parameters, secret_names)``: the final values and the names holding a secret.
Admission = Callable[[Mapping[str, Any], Sequence[str]], Awaitable[None]]


class RequestOptions(TypedDict, total=False):
    """How ``request`` and ``prepare`` take a request; every key may be left out (default)."""

    context: Mapping[str, Any] | None  # merged over {"user": "stanley"}
    render_live: bool  # True: the parameters are templates (False: data, never rendered)
    parent: str | None  # the workflow's execution id, for a task
    hold: bool  # False; True: stored ``pending`` until ``release``
    admit: Admission | None  # sees the final parameters, raises to refuse them
    execution_id: str | None  # chosen by the caller (idempotent requests), else a new one
    known_secrets: Sequence[str]  # strings the caller knows are secret, masked


def mentions_kv(action: Action, live: Mapping[str, Any]) -> bool:
    """Whether any default or live value names ``st2kv`` (so the datastore must be loaded)."""
    return _defaults_mention_kv(action) or (bool(live) and "st2kv" in json.dumps(live, default=str))


# Per action object (content reloads make new ones): whether its or its runner's defaults name
# ``st2kv``. Asked for every request, and the answer only changes with the content.
_DEFAULTS_SEEN: dict[int, tuple[Action, bool]] = {}
_DEFAULTS_SEEN_MAX = 4096


def _defaults_mention_kv(action: Action) -> bool:
    seen = _DEFAULTS_SEEN.get(id(action))
    if seen is not None and seen[0] is action:
        return seen[1]
    runner = RUNNER_TYPES[action.runner_type]
    defaults = [
        p.get("default") for p in (*runner.parameters.values(), *action.parameters.values())
    ]
    answer = "st2kv" in json.dumps(defaults, default=str)
    if len(_DEFAULTS_SEEN) >= _DEFAULTS_SEEN_MAX:
        _DEFAULTS_SEEN.pop(next(iter(_DEFAULTS_SEEN)))
    _DEFAULTS_SEEN[id(action)] = (action, answer)
    return answer


class ExecutionIntake(ExecutionDispatch):
    # -- requests -------------------------------------------------------------------------
    def action(self, ref: str) -> Action:
        action = self.index.get_action(ref)
        if not action.enabled:
            raise ExecutionError(f'Action "{ref}" cannot be executed because it is disabled.')
        if action.runner_type not in self.runners:
            raise ExecutionError(f"runner {action.runner_type!r} of {ref} is not available")
        return action

    async def request(
        self, ref: str, parameters: Mapping[str, Any], **options: Unpack[RequestOptions]
    ) -> Execution:
        """Validate and render parameters, persist a ``requested`` execution, wake a worker.

        ``hold=True`` stores it ``pending`` instead: nothing runs it until ``release`` (an
        approval-gated request). ``admit`` sees the final parameters (defaults applied) before
        anything is stored and raises to refuse them (chat permission checks). ``known_secrets``:
        strings the caller knows are secret (a workflow's), masked wherever they land. Raises
        ParameterError / ExecutionError / UnknownActionError before anything is stored.
        """
        execution = await self.prepare(ref, parameters, **options)
        await self.store.executions.insert(execution)
        logger.info("execution %s %s: %s", execution.id, execution.status, execution.action_ref)
        if options.get("hold", False):
            self._observe_created(execution)
        else:
            self.start_soon(execution)  # tells the observers, once (the stream's create event)
        return execution

    async def prepare(
        self, ref: str, parameters: Mapping[str, Any], **options: Unpack[RequestOptions]
    ) -> Execution:
        """The execution ``request`` would store, not stored: for a caller that writes it in
        its own transaction (the rules engine) and then calls ``start_soon``."""
        action = self.action(ref)
        render_live = options.get("render_live", True)
        ctx = {"user": "stanley", **(options.get("context") or {}), "pack": action.pack}
        pack = self.index.packs.get(action.pack)
        with recording_decryptions() as decrypted:  # shown masked like secrets (core.kv)
            resolved = resolve_parameters(
                RUNNER_TYPES[action.runner_type],
                action,
                parameters,
                action_context=ctx,
                config_context=pack.config if pack else {},
                kv=await self._kv_for(action, parameters if render_live else {}, ctx),
                render_live=render_live,
            )
        # Every parameter holding a secret (a rendered ``cmd`` too) is masked like a secret.
        secrets = [*decrypted, *secret_values(resolved.schema, resolved.all)]
        secrets += occurring(resolved.all, options.get("known_secrets", ()))
        report_secrets(secrets)  # masked in the process log (a refusal may quote one)
        ctx = mark_decrypted(ctx, resolved.all, secrets)
        admit = options.get("admit")
        if admit is not None:
            await admit(resolved.all, ctx.get(DECRYPTED_PARAMETERS) or [])
        execution = Execution.request(
            action.ref, action.runner_type, resolved.all, ctx, parent=options.get("parent"),
            held=options.get("hold", False), execution_id=options.get("execution_id"),
        )  # fmt: skip
        # Most requests hold no secret: no second copy for them.
        return execution.with_changes(secrets=tuple(secrets)) if secrets else execution

    async def release(self, execution_id: str, context: Mapping[str, Any]) -> Execution | None:
        """A held (``pending``) execution goes to ``requested`` with ``context`` merged in.

        None when it is no longer pending (canceled meanwhile, or released by someone else).
        """
        current = await self.store.executions.get(execution_id)
        if current is None or current.status is not S.PENDING:
            return None
        released = await self.cas(current, S.REQUESTED, context={**current.context, **context})
        if released is not None:
            self._wakeup.set()
        return released

    async def end_held(
        self, execution_id: str, status: ExecutionStatus, result: dict[str, Any]
    ) -> Execution | None:
        """A held execution ends without running (denied → canceled, expired → timeout)."""
        current = await self.store.executions.get(execution_id)
        if current is None or current.status is not S.PENDING:
            return None
        return await self.cas(current, status, result=result)

    async def request_failed(
        self,
        ref: str,
        parameters: Mapping[str, Any],
        *,
        context: Mapping[str, Any] | None = None,
        error: str,
    ) -> Execution:
        """Persist an execution that is ``failed`` from birth, with result ``{error}``.

        st2 records a rule whose parameters cannot be rendered as a failed execution rather
        than dropping it, so the failure is visible where operators look (st2-format §4).
        """
        failed = self.prepare_failed(ref, parameters, context=context, error=error)
        await self.store.executions.insert(failed)
        self._observe_created(failed)
        logger.info("execution %s failed at request: %s", failed.id, error)
        return failed

    def prepare_failed(
        self,
        ref: str,
        parameters: Mapping[str, Any],
        *,
        context: Mapping[str, Any] | None = None,
        error: str,
        execution_id: str | None = None,
        known_secrets: Sequence[str] = (),
    ) -> Execution:
        """The execution ``request_failed`` would store, not stored (see ``prepare``)."""
        action = self.index.actions.get(ref)
        runner_type = action.runner_type if action else ""
        ctx = {"user": "stanley", **(context or {})}
        if action is not None:
            ctx["pack"] = action.pack
        secrets = occurring(parameters, known_secrets)
        ctx = mark_decrypted(ctx, parameters, secrets)
        requested = Execution.request(
            ref, runner_type, dict(parameters), ctx, execution_id=execution_id
        )
        failed = requested.transition(S.FAILED, result={"error": error})
        return failed.with_changes(secrets=tuple(secrets))

    async def _request_retry(self, retry: RetryRequest) -> Execution:
        # The stored parameters were rendered and validated once (immutable defaults included):
        # re-resolving them would render templates twice, so they are reused as they are.
        action = self.action(retry.action_ref)
        execution = Execution.request(
            action.ref, action.runner_type, retry.parameters, {**retry.context, "pack": action.pack}
        )
        await self.store.executions.insert(execution)
        self._observe_created(execution)
        self._wakeup.set()
        return execution

    async def _kv_for(
        self, action: Action, live: Mapping[str, Any], ctx: Mapping[str, Any]
    ) -> Mapping[str, Any] | None:
        """The ``st2kv`` context, loaded only when a template could read it (a hot path)."""
        if self.kv is None or not mentions_kv(action, live):
            return None
        return await kv_context(self.kv, ctx.get("api_user") or ctx.get("user"))

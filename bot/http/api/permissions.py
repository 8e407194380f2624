"""The API's permission checks: the SAME ``authorize_execution`` that guards chat, audited.

Running, re-running, cancelling, pausing and resuming an execution all need permission to run
its action with its parameters (st2: ``action_execute`` implies ``execution_stop|rerun``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.app import Engine
from bot.http.api.errors import ApiError
from core.auth.service import Caller
from core.authz.authorizer import authorize_execution
from core.models import MASK, Action
from core.params import mask_secrets, merge_parameter_schemas
from core.runners.types import RUNNER_TYPES


def may_execute(engine: Engine, who: Caller, action: Action, parameters: Mapping[str, Any]) -> bool:
    """Whether ``check_execute`` would let ``who`` through (not audited: the console asks it to
    decide which buttons to show; the click itself goes through ``check_execute``)."""
    schema = merge_parameter_schemas(RUNNER_TYPES[action.runner_type], action)
    return authorize_execution(
        engine.authz, who.user, action_ref=action.ref, schema=schema, parameters=parameters
    ).allowed


async def check_execute(
    engine: Engine,
    who: Caller,
    action: Action,
    parameters: Mapping[str, Any],
    *,
    verb: str = "execute",
    alias_ref: str | None = None,
    fixed: Mapping[str, Any] | None = None,
    holding_secrets: Sequence[str] = (),
) -> None:
    """403 with st2's wording unless the caller may run ``action`` with ``parameters``."""
    schema = merge_parameter_schemas(RUNNER_TYPES[action.runner_type], action)
    decision = authorize_execution(
        engine.authz,
        who.user,
        action_ref=action.ref,
        schema=schema,
        parameters=parameters,
        alias_ref=alias_ref,
        fixed=fixed,
    )
    await engine.audit.record_check(
        who.user,
        decision,
        action_ref=action.ref,
        alias_ref=alias_ref,
        # Parameters that received decrypted datastore secrets are masked too.
        masked_parameters={
            **mask_secrets(schema, dict(parameters)),
            **dict.fromkeys(holding_secrets, MASK),
        },
        kind=f"api.{verb}",
    )
    if not decision.allowed:
        raise ApiError(
            403,
            f'User "{who.user.name}" doesn\'t have required permission "action_{verb}" on '
            f'resource "action:{action.pack}:{action.name}": {decision.reason}',
        )

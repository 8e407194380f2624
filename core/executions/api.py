"""The execution as users see it (CLI, later REST and chat): StackStorm's shape, secrets masked."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from core.kv.decrypted import with_decrypted_as_secret
from core.models import MASK, Action, Execution
from core.models.execution import isoformat
from core.params import mask_secrets, merge_parameter_schemas, secret_values
from core.runners.types import RUNNER_TYPES


def scrub(value: Any, secrets: Iterable[str]) -> Any:
    """Replace every occurrence of a secret string inside ``value`` (recursively) with the mask."""
    secrets = [s for s in secrets if s]
    if not secrets:
        return value
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {k: scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    return value


def parameter_schema(action: Action) -> dict[str, Any]:
    """The merged runner + action schema, which says which parameters are secret."""
    runner = RUNNER_TYPES.get(action.runner_type)
    if runner is None:
        return {k: dict(v) for k, v in action.parameters.items()}
    return merge_parameter_schemas(runner, action)


def masked_parameters(schema: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """Secrets as ``********`` (an unset secret stays null), and secret text scrubbed elsewhere."""
    masked = mask_secrets(schema, parameters)
    masked = {k: None if parameters.get(k) is None else v for k, v in masked.items()}
    return dict(scrub(masked, secret_values(schema, parameters)))


def execution_to_api(execution: Execution, action: Action | None) -> dict[str, Any]:
    # Parameters that received decrypted datastore secrets are masked like ``secret: true``.
    schema = with_decrypted_as_secret(parameter_schema(action) if action else {}, execution.context)
    secrets = secret_values(schema, execution.parameters)
    return {
        "id": execution.id,
        "action": action.to_api()
        if action
        else {"ref": execution.action_ref, "runner_type": execution.runner_type},
        "runner": {"name": execution.runner_type},
        "status": str(execution.status),
        "parameters": masked_parameters(schema, execution.parameters),
        "result": scrub(execution.result, secrets),
        "context": execution.context,
        "parent": execution.parent,
        "children": list(execution.children),
        "start_timestamp": isoformat(execution.start_timestamp),
        "end_timestamp": isoformat(execution.end_timestamp),
        "elapsed_seconds": execution.elapsed_seconds,
        "log": [
            {"status": str(c.status), "timestamp": isoformat(c.timestamp)} for c in execution.log
        ],
    }


def settable_parameters(action: Action, parameters: dict[str, Any]) -> dict[str, Any]:
    """The caller-settable values among an execution's parameters, for a rerun (immutable ones
    and unset ones come back from their defaults)."""
    schema = parameter_schema(action)
    return {
        name: value
        for name, value in parameters.items()
        if value is not None and name in schema and not schema[name].get("immutable")
    }

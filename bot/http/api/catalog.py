"""Pack content as st2 shows it: actions, runner types, policies, policy types (packs: packs.py).

Squall's content lives in pack files, so creating, changing or deleting actions through the API
answers 405 with a faultstring saying so.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.http.api.base import Param, RouteTable, engine_of, ok, page_of, paging, projected
from bot.http.api.content import LIST_PARAMS, OBJECT_LIST, REF, add_content_routes
from bot.http.api.errors import ApiError, not_found
from core.executions.api import parameter_schema
from core.models import Action
from core.models.action import RunnerType
from core.models.policy import CONCURRENCY, CONCURRENCY_ATTR, POLICY_TYPES, RETRY, Policy
from core.runners.types import RUNNER_TYPES

routes = RouteTable("catalog")
FILES_NOT_API = (
    "Squall loads actions from pack files; change the pack on disk (and restart or reload) "
    "instead of {verb} it through the API"
)


def action_to_api(action: Action) -> dict[str, Any]:
    api = action.to_api()
    return {
        **api,
        "id": action.ref,
        "uid": f"action:{action.pack}:{action.name}",
        "notify": dict(action.notify),
        "output_schema": dict(action.output_schema),
        "metadata_file": str(action.metadata_file.name) if action.metadata_file else "",
    }


def runner_to_api(runner: RunnerType) -> dict[str, Any]:
    return {
        "id": runner.name,
        "uid": f"runner_type:{runner.name}",
        "name": runner.name,
        "description": runner.description,
        "enabled": True,
        "runner_package": runner.name,
        "runner_module": runner.name,
        "runner_parameters": {k: dict(v) for k, v in runner.parameters.items()},
        "output_key": runner.output_key,
        "output_schema": {},
    }


def policy_to_api(policy: Policy) -> dict[str, Any]:
    return {
        "id": policy.ref,
        "uid": f"policy:{policy.pack}:{policy.name}",
        "ref": policy.ref,
        "name": policy.name,
        "pack": policy.pack,
        "description": policy.description,
        "enabled": policy.enabled,
        "resource_ref": policy.resource_ref,
        "policy_type": policy.policy_type,
        "parameters": dict(policy.parameters),
    }


POLICY_TYPE_DOCS: dict[str, dict[str, Any]] = {
    CONCURRENCY: {
        "description": "Limits the number of running executions of an action.",
        "parameters": {"threshold": {"type": "integer"}, "action": {"type": "string"}},
    },
    CONCURRENCY_ATTR: {
        "description": "Limits running executions of an action per value of attributes.",
        "parameters": {
            "threshold": {"type": "integer"},
            "action": {"type": "string"},
            "attributes": {"type": "array"},
        },
    },
    RETRY: {
        "description": "Retries an execution on failure or timeout.",
        "parameters": {
            "retry_on": {"type": "string"},
            "max_retry_count": {"type": "integer"},
            "delay": {"type": "integer"},
        },
    },
}


def policy_type_to_api(ref: str) -> dict[str, Any]:
    resource_type, _, name = ref.partition(".")
    doc = POLICY_TYPE_DOCS.get(ref, {"description": "", "parameters": {}})
    return {
        "id": ref,
        "uid": f"policy_type:{resource_type}:{name}",
        "ref": ref,
        "name": name,
        "resource_type": resource_type,
        "enabled": True,
        **doc,
    }


add_content_routes(
    routes,
    "actions",
    lambda engine: engine.content.index.actions,
    action_to_api,
    one="action",
    many="actions",
    filters=("pack", "name"),
)
add_content_routes(
    routes,
    "runnertypes",
    lambda engine: RUNNER_TYPES,
    runner_to_api,
    one="runner type",
    many="runner types",
    filters=("name",),
    param="name_or_id",
)
add_content_routes(routes, "policies", lambda engine: engine.content.index.policies,
                   policy_to_api, one="policy", many="policies",
                   filters=("pack", "resource_ref", "policy_type"))  # fmt: skip


@routes.add("GET", "/api/v1/actions/views/parameters/{ref_or_id}", "An action's parameters "
            "with its runner's", params=(REF,))  # fmt: skip
async def action_parameters(request: web.Request) -> web.Response:
    ref = request.match_info["ref_or_id"]
    action = engine_of(request).content.index.actions.get(ref)
    if action is None:
        raise not_found("action", ref)
    return ok({"parameters": parameter_schema(action)})


async def _read_only(request: web.Request) -> web.Response:
    verb = {"POST": "creating", "PUT": "changing", "DELETE": "deleting"}[request.method]
    raise ApiError(405, FILES_NOT_API.format(verb=verb), {"Allow": "GET"})


for _method, _path in (
    ("POST", "/api/v1/actions"),
    ("PUT", "/api/v1/actions/{ref_or_id}"),
    ("DELETE", "/api/v1/actions/{ref_or_id}"),
):
    routes.add(_method, _path, "Not supported: actions live in pack files",
               params=(REF,) if "{" in _path else (), status=405)(_read_only)  # fmt: skip


@routes.add("GET", "/api/v1/policytypes", "List policy types", params=(
    *LIST_PARAMS, Param("resource_type")), response=OBJECT_LIST)  # fmt: skip
async def list_policy_types(request: web.Request) -> web.Response:
    kind = request.query.get("resource_type")
    docs = [
        policy_type_to_api(ref) for ref in POLICY_TYPES if not kind or ref.startswith(kind + ".")
    ]
    limit, offset = paging(request)
    return page_of(projected(request, docs), limit, offset)


@routes.add("GET", "/api/v1/policytypes/{ref_or_id}", "One policy type", params=(REF,))
async def get_policy_type(request: web.Request) -> web.Response:
    ref = request.match_info["ref_or_id"]
    if ref not in POLICY_TYPES:
        raise not_found("policy type", ref)
    return ok(policy_type_to_api(ref))

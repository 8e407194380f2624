"""Pack content as st2 shows it: actions, runner types, packs, policies, policy types.

Squall's content lives in pack files, so creating, changing or deleting actions through the API
answers 405 with a faultstring saying so.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.http.api.base import (
    LIMIT,
    OFFSET,
    Param,
    RouteTable,
    engine_of,
    ok,
    page_of,
    paging,
    projected,
)
from bot.http.api.errors import ApiError, not_found
from core.executions.api import parameter_schema
from core.models import Action, Pack
from core.models.action import RunnerType
from core.models.policy import CONCURRENCY, CONCURRENCY_ATTR, POLICY_TYPES, RETRY, Policy
from core.runners.types import RUNNER_TYPES

routes = RouteTable("catalog")
LIST_PARAMS = (
    LIMIT,
    OFFSET,
    Param("include_attributes"),
    Param("exclude_attributes"),
)
REF = Param("ref_or_id", where="path", required=True)
OBJECT_LIST = {"type": "array", "items": {"type": "object"}}
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


def pack_to_api(pack: Pack) -> dict[str, Any]:
    meta = dict(pack.metadata)
    return {
        **{k: v for k, v in meta.items() if isinstance(k, str)},
        "id": pack.ref,
        "uid": f"pack:{pack.ref}",
        "ref": pack.ref,
        "name": pack.name,
        "description": pack.description,
        "version": pack.version,
        "author": pack.author,
        "email": meta.get("email", ""),
        "keywords": list(meta.get("keywords") or []),
        "path": str(pack.path),
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


@routes.add("GET", "/api/v1/actions", "List actions", params=(
    *LIST_PARAMS, Param("pack"), Param("name")), response=OBJECT_LIST)  # fmt: skip
async def list_actions(request: web.Request) -> web.Response:
    index = engine_of(request).content.index
    pack, name = request.query.get("pack"), request.query.get("name")
    actions = [
        action_to_api(a)
        for a in sorted(index.actions.values(), key=lambda a: a.ref)
        if (not pack or a.pack == pack) and (not name or a.name == name)
    ]
    limit, offset = paging(request)
    return page_of(projected(request, actions), limit, offset)


@routes.add("GET", "/api/v1/actions/{ref_or_id}", "One action", params=(REF,))
async def get_action(request: web.Request) -> web.Response:
    ref = request.match_info["ref_or_id"]
    action = engine_of(request).content.index.actions.get(ref)
    if action is None:
        raise not_found("action", ref)
    return ok(action_to_api(action))


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


@routes.add("GET", "/api/v1/runnertypes", "List runner types", params=(
    *LIST_PARAMS, Param("name")), response=OBJECT_LIST)  # fmt: skip
async def list_runners(request: web.Request) -> web.Response:
    name = request.query.get("name")
    runners = [
        runner_to_api(r)
        for r in sorted(RUNNER_TYPES.values(), key=lambda r: r.name)
        if not name or r.name == name
    ]
    limit, offset = paging(request)
    return page_of(projected(request, runners), limit, offset)


@routes.add("GET", "/api/v1/runnertypes/{name_or_id}", "One runner type",
            params=(Param("name_or_id", where="path", required=True),))  # fmt: skip
async def get_runner(request: web.Request) -> web.Response:
    name = request.match_info["name_or_id"]
    runner = RUNNER_TYPES.get(name)
    if runner is None:
        raise not_found("runner type", name)
    return ok(runner_to_api(runner))


@routes.add("GET", "/api/v1/packs", "List packs", params=(
    *LIST_PARAMS, Param("name"), Param("ref")), response=OBJECT_LIST)  # fmt: skip
async def list_packs(request: web.Request) -> web.Response:
    index = engine_of(request).content.index
    name, ref = request.query.get("name"), request.query.get("ref")
    packs = [
        pack_to_api(p)
        for p in sorted(index.packs.values(), key=lambda p: p.ref)
        if (not name or p.name == name) and (not ref or p.ref == ref)
    ]
    limit, offset = paging(request)
    return page_of(projected(request, packs), limit, offset)


@routes.add("GET", "/api/v1/packs/{ref_or_id}", "One pack", params=(REF,))
async def get_pack(request: web.Request) -> web.Response:
    ref = request.match_info["ref_or_id"]
    pack = engine_of(request).content.index.packs.get(ref)
    if pack is None:
        raise not_found("pack", ref)
    return ok(pack_to_api(pack))


async def _no_pack_install(request: web.Request) -> web.Response:
    raise ApiError(
        501,
        "Installing, removing and registering packs through the API is not supported by "
        "Squall yet: use `squall pack install|remove` on the host, then restart `squall serve`",
    )


for _path in ("/api/v1/packs/install", "/api/v1/packs/uninstall", "/api/v1/packs/register"):
    routes.add("POST", _path, "Not supported yet (501)", status=501)(_no_pack_install)


@routes.add("GET", "/api/v1/policies", "List policies", params=(
    *LIST_PARAMS, Param("pack"), Param("resource_ref"), Param("policy_type")),
    response=OBJECT_LIST)  # fmt: skip
async def list_policies(request: web.Request) -> web.Response:
    index = engine_of(request).content.index
    q = request.query
    policies = [
        policy_to_api(p)
        for p in sorted(index.policies.values(), key=lambda p: p.ref)
        if (not q.get("pack") or p.pack == q["pack"])
        and (not q.get("resource_ref") or p.resource_ref == q["resource_ref"])
        and (not q.get("policy_type") or p.policy_type == q["policy_type"])
    ]
    limit, offset = paging(request)
    return page_of(projected(request, policies), limit, offset)


@routes.add("GET", "/api/v1/policies/{ref_or_id}", "One policy", params=(REF,))
async def get_policy(request: web.Request) -> web.Response:
    ref = request.match_info["ref_or_id"]
    policy = engine_of(request).content.index.policies.get(ref)
    if policy is None:
        raise not_found("policy", ref)
    return ok(policy_to_api(policy))


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

"""``/api/v1/packs``: list and get, install and uninstall (as executions of the bundled ``packs``
pack, what ``st2 pack install|remove`` follow on the stream), register (a content reload).

Install, uninstall and register are for admins (403 for anyone else, as st2's RBAC without a
``pack_install`` grant). The install answers at once with ``{"execution_id": …}`` (202); a bad
source or an invalid pack ends that execution ``failed`` with the reason in its result.
Squall has no pack index (StackStorm Exchange): ``packs/index/search`` says so.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.http.api.base import RouteTable, caller, engine_of, json_body, ok, require_admin
from bot.http.api.content import add_content_routes
from bot.http.api.errors import ApiError
from bot.http.api.executions import run_action
from bot.http.health import RELOADS
from core.models import Pack

routes = RouteTable("packs")
ASYNC_REQUEST = {
    "type": "object",
    "required": ["execution_id"],
    "properties": {"execution_id": {"type": "string"}},
}
INSTALL = {
    "type": "object",
    "required": ["packs"],
    "properties": {
        "packs": {"type": "array", "items": {"type": "string"}},
        "force": {"type": "boolean"},
        "skip_dependencies": {"type": "boolean"},
    },
}
UNINSTALL = {
    "type": "object",
    "required": ["packs"],
    "properties": {"packs": {"type": "array", "items": {"type": "string"}}},
}
REGISTER = {
    "type": "object",
    "properties": {
        "packs": {"type": "array", "items": {"type": "string"}},
        "types": {"type": "array", "items": {"type": "string"}},
    },
}
NO_INDEX = (
    "Squall has no pack index (StackStorm Exchange) to search: install packs from a git "
    "repository URL or a folder on the server (st2 pack install file:///path/to/pack)"
)


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


add_content_routes(
    routes,
    "packs",
    lambda engine: engine.content.index.packs,
    pack_to_api,
    one="pack",
    many="packs",
    filters=("name", "ref"),
)


def _pack_list(body: dict[str, Any]) -> list[str]:
    packs = body.get("packs")
    if not isinstance(packs, list) or not packs:
        raise ApiError(400, "packs: expected a non-empty list of pack sources or refs")
    if not all(isinstance(p, str) and p.strip() for p in packs):
        raise ApiError(400, "packs: every item must be a non-empty string")
    return [p.strip() for p in packs]


async def _run_pack_action(request: web.Request, ref: str, what: str) -> web.Response:
    who = require_admin(request, what)
    engine = engine_of(request)
    body = await json_body(request)
    parameters: dict[str, Any] = {"packs": _pack_list(body)}
    for flag in ("force", "skip_dependencies"):
        if flag in body and ref == "packs.install":
            if not isinstance(body[flag], bool):
                raise ApiError(400, f"{flag}: expected true or false")
            parameters[flag] = body[flag]
    execution = await run_action(engine, who, ref, parameters, context={"user": who.user.name})
    return ok({"execution_id": execution.id}, status=202)


@routes.add("POST", "/api/v1/packs/install", "Install packs: runs packs.install (admins)",
            body=INSTALL, status=202, response=ASYNC_REQUEST)  # fmt: skip
async def install_packs(request: web.Request) -> web.Response:
    return await _run_pack_action(request, "packs.install", "install packs")


@routes.add("POST", "/api/v1/packs/uninstall", "Remove packs: runs packs.uninstall (admins)",
            body=UNINSTALL, status=202, response=ASYNC_REQUEST)  # fmt: skip
async def uninstall_packs(request: web.Request) -> web.Response:
    return await _run_pack_action(request, "packs.uninstall", "remove packs")


@routes.add("POST", "/api/v1/packs/register", "Reload all content from the pack files "
            "(admins); counts of what is loaded", body=REGISTER)  # fmt: skip
async def register_packs(request: web.Request) -> web.Response:
    require_admin(request, "register packs")
    await json_body(request)  # st2's packs/types narrow it; Squall reloads everything at once
    reloads = request.app.get(RELOADS)
    if reloads is None:
        raise ApiError(501, "content reload is only available in `squall serve`")
    errors = await reloads.reload(f"API register by {caller(request).user.name}")
    if errors:
        shown = "; ".join(errors[:5])
        raise ApiError(
            400, f"content reload found errors; the content loaded before stays: {shown}"
        )
    index = engine_of(request).content.index
    return ok({
        "packs": len(index.packs), "actions": len(index.actions), "rules": len(index.rules),
        "aliases": len(index.aliases), "policies": len(index.policies),
        "triggers": len(index.trigger_types),
    })  # fmt: skip


@routes.add("POST", "/api/v1/packs/index/search", "Not supported: Squall has no pack index",
            body={"type": "object"}, status=501)  # fmt: skip
async def search_index(request: web.Request) -> web.Response:
    raise ApiError(501, NO_INDEX)

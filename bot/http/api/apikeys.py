"""``/api/v1/apikeys``: list, create (the key is shown once), disable and delete (= revoke).

Admins manage every key; other users may only create and see keys for themselves. A revoked
key stays listed (disabled), so listings show who had access and when.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.http.api.base import (
    LIMIT,
    OFFSET,
    Param,
    RouteTable,
    caller,
    engine_of,
    is_admin,
    json_body,
    ok,
    page_of,
    paging,
    require_admin,
)
from bot.http.api.errors import ApiError
from core.models.apikey import ApiKey
from core.models.execution import utcnow
from core.webhooks.apikeys import generate_api_key, key_id_of_hash

routes = RouteTable("apikeys")
ID = Param("api_key_id_or_key", where="path", required=True)


def key_doc(key: ApiKey) -> dict[str, Any]:
    return {**key.to_api(), "uid": f"api_key:{key.id}", "metadata": {"name": key.name}}


async def _visible(request: web.Request) -> list[ApiKey]:
    keys = await engine_of(request).store.api_keys.list()
    if is_admin(request):
        return keys
    name = caller(request).user.name
    return [k for k in keys if k.user == name]


@routes.add("GET", "/api/v1/apikeys", "List API keys (never the key itself)", params=(
    LIMIT, OFFSET),
    response={"type": "array", "items": {"type": "object"}})  # fmt: skip
async def list_keys(request: web.Request) -> web.Response:
    docs = [key_doc(k) for k in await _visible(request)]
    limit, offset = paging(request)
    return page_of(docs, limit, offset)


@routes.add("POST", "/api/v1/apikeys", "Create an API key; the response holds the key, once",
            body={"type": "object", "properties": {"user": {"type": "string"},
            "metadata": {"type": "object"}}}, status=201, response={"type": "object",
            "required": ["id", "key"], "properties": {"key": {"type": "string"}}})  # fmt: skip
async def create_key(request: web.Request) -> web.Response:
    who = caller(request)
    body = await json_body(request)
    user = body.get("user") or who.user.name
    if not isinstance(user, str):
        raise ApiError(400, "user: expected a string")
    if user != who.user.name:
        require_admin(request, f'create API keys for user "{user}"')
    metadata = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ApiError(400, "metadata: expected an object")
    plaintext, stored_hash = generate_api_key()
    key = ApiKey(
        id=key_id_of_hash(stored_hash),
        key_hash=stored_hash,
        created_at=utcnow(),
        name=str(metadata.get("name") or ""),
        created_by=who.user.name,
        user=user,
    )
    await engine_of(request).store.api_keys.insert(key)
    return ok({**key_doc(key), "key": plaintext}, status=201)


async def _own(request: web.Request) -> ApiKey:
    wanted = request.match_info["api_key_id_or_key"]
    for key in await _visible(request):
        if key.id == wanted:
            return key
    raise ApiError(404, f'ApiKey with id "{wanted[:64]}" not found')


@routes.add("GET", "/api/v1/apikeys/{api_key_id_or_key}", "One API key", params=(ID,))
async def get_key(request: web.Request) -> web.Response:
    return ok(key_doc(await _own(request)))


@routes.add("PUT", "/api/v1/apikeys/{api_key_id_or_key}", "Disable an API key (enabled: "
            "false); a disabled key cannot be enabled again", params=(ID,), body={
            "type": "object", "properties": {"enabled": {"type": "boolean"}}})  # fmt: skip
async def update_key(request: web.Request) -> web.Response:
    key = await _own(request)
    enabled = (await json_body(request)).get("enabled", not key.revoked)
    if enabled is True and key.revoked:
        raise ApiError(400, "enabled: a disabled (revoked) key cannot be enabled again; create "
                       "a new one")  # fmt: skip
    if enabled is False and not key.revoked:
        await engine_of(request).store.api_keys.revoke(key.id, utcnow())
        key = key.revoke()
    return ok(key_doc(key))


@routes.add("DELETE", "/api/v1/apikeys/{api_key_id_or_key}", "Revoke an API key", params=(ID,),
            status=204)  # fmt: skip
async def delete_key(request: web.Request) -> web.Response:
    key = await _own(request)
    if not key.revoked:
        await engine_of(request).store.api_keys.revoke(key.id, utcnow())
    return web.Response(status=204)

"""``/api/v1/keys``: the datastore, with st2's ``scope``, ``user``, ``decrypt`` and ``prefix``.

Who may do what: everyone authenticated reads system keys (secrets stay ciphertext) and their
own user-scoped keys; only ``admin`` writes or deletes system keys, decrypts system secrets, or
touches another user's keys (st2's CVE-2018-20345: authz on every filter parameter).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.app import Engine
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
from core.kv.model import KeyValuePair
from core.kv.names import SYSTEM, USER, KeyNameError, canonical_scope

routes = RouteTable("keys")
NAME = Param("name", where="path", required=True)
SCOPE_PARAMS = (Param("scope"), Param("user"), Param("decrypt", {"type": "boolean"}))
KEY = {
    "type": "object",
    "required": ["name", "scope"],
    "properties": {
        "name": {"type": "string"},
        "value": {"type": ["string", "null"]},
        "secret": {"type": "boolean"},
        "scope": {"type": "string"},
    },
}


def _scope(request: web.Request, default: str) -> str:
    text = request.query.get("scope") or default
    if text == "all":
        return text
    try:
        return canonical_scope(text)
    except KeyNameError as bad:
        raise ApiError(400, str(bad)) from None


def _user(request: web.Request, asked: Any) -> str:
    """The user-scope owner: the caller unless an admin names another."""
    who = caller(request)
    if asked in (None, "", who.user.name):
        return who.user.name
    if not isinstance(asked, str):
        raise ApiError(400, "user: expected a string")
    require_admin(request, f'access datastore items of user "{asked}"')
    return asked


def _decrypt(request: web.Request, scope: str) -> bool:
    wanted = request.query.get("decrypt", "false").lower() in ("true", "1", "yes")
    if wanted and scope != USER:
        require_admin(request, "decrypt system-scoped datastore secrets")
    return wanted


def key_to_api(engine: Engine, pair: KeyValuePair, decrypt: bool) -> dict[str, Any]:
    doc = pair.to_api(decrypt, engine.kv.keys)
    doc["id"] = f"{doc['scope']}:{pair.name}"
    return doc


@routes.add("GET", "/api/v1/keys", "List datastore items", params=(
    *SCOPE_PARAMS, Param("prefix"), LIMIT,
    OFFSET),
    response={"type": "array", "items": KEY})  # fmt: skip
async def list_keys(request: web.Request) -> web.Response:
    engine = engine_of(request)
    scope = _scope(request, "all")
    user = _user(request, request.query.get("user"))
    prefix = request.query.get("prefix") or None
    docs: list[dict[str, Any]] = []
    for each in (SYSTEM, USER) if scope == "all" else (scope,):
        decrypt = _decrypt(request, each) if scope != "all" else _decrypt(request, USER)
        pairs = await engine.kv.list(prefix, scope=each, user=user if each == USER else None)
        docs += [key_to_api(engine, p, decrypt and (each == USER or is_admin(request)))
                 for p in pairs]  # fmt: skip
    limit, offset = paging(request)
    return page_of(docs, limit, offset)


@routes.add("GET", "/api/v1/keys/{name}", "One datastore item", params=(NAME, *SCOPE_PARAMS),
            response=KEY)  # fmt: skip
async def get_key(request: web.Request) -> web.Response:
    engine = engine_of(request)
    name = request.match_info["name"]
    scope = _one_scope(request)
    user = _user(request, request.query.get("user"))
    decrypt = _decrypt(request, scope)
    pair = await engine.kv.get(name, scope=scope, user=user if scope == USER else None)
    if pair is None:
        raise _missing(name, scope)
    return ok(key_to_api(engine, pair, decrypt))


@routes.add("PUT", "/api/v1/keys/{name}", "Create or replace a datastore item", params=(
    NAME,), body={"type": "object", "properties": {"value": {"type": "string"},
    "secret": {"type": "boolean"}, "scope": {"type": "string"}, "user": {"type": "string"},
    "ttl": {"type": "integer"}, "description": {"type": "string"}}},
    response=KEY)  # fmt: skip
async def put_key(request: web.Request) -> web.Response:
    engine = engine_of(request)
    name = request.match_info["name"]
    body = await json_body(request)
    scope_text = body.get("scope") or request.query.get("scope") or SYSTEM
    try:
        scope = canonical_scope(str(scope_text))
    except KeyNameError as bad:
        raise ApiError(400, str(bad)) from None
    value, ttl = body.get("value"), body.get("ttl")
    if not isinstance(value, str):
        raise ApiError(400, "value: required, a string")
    if body.get("encrypted"):
        raise ApiError(400, "encrypted: pre-encrypted values are not supported; send the "
                       "plaintext with secret: true")  # fmt: skip
    if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool) or ttl < 1):
        raise ApiError(400, "ttl: expected a positive integer number of seconds")
    if scope == SYSTEM:
        require_admin(request, "write system-scoped datastore items")
    user = _user(request, body.get("user") or request.query.get("user"))
    try:
        pair = await engine.kv.set(
            name,
            value,
            scope=scope,
            user=user if scope == USER else None,
            secret=bool(body.get("secret")),
            ttl=ttl,
            description=str(body.get("description") or ""),
        )
    except KeyNameError as bad:
        raise ApiError(400, str(bad)) from None
    return ok(key_to_api(engine, pair, decrypt=False))


@routes.add("DELETE", "/api/v1/keys/{name}", "Delete a datastore item",
            params=(NAME, Param("scope"), Param("user")), status=204)  # fmt: skip
async def delete_key(request: web.Request) -> web.Response:
    engine = engine_of(request)
    name = request.match_info["name"]
    scope = _one_scope(request)
    if scope == SYSTEM:
        require_admin(request, "delete system-scoped datastore items")
    user = _user(request, request.query.get("user"))
    if not await engine.kv.delete(name, scope=scope, user=user if scope == USER else None):
        raise _missing(name, scope)
    return web.Response(status=204)


def _one_scope(request: web.Request) -> str:
    """The ``scope`` of a call on one item (system unless given; ``all`` only lists)."""
    scope = _scope(request, SYSTEM)
    if scope == "all":
        raise ApiError(400, "scope: all is only for listing")
    return scope


def _missing(name: str, scope: str) -> ApiError:
    return ApiError(404, f"KeyValuePair with name: {name} and scope: {scope} not found in db.")

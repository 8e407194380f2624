"""Who calls: the auth middleware of ``/api/v1`` and ``/stream/v1``, and ``/auth/v1/tokens``.

Every API request but the public ones (token creation, the OpenAPI document, webhooks, which
check their own auth) must carry an API key (``St2-Api-Key`` / ``?st2-api-key=``) or a token
(``X-Auth-Token`` / ``?x-auth-token=``); the caller is the Squall user it belongs to.
"""

from __future__ import annotations

import base64
import binascii
import logging
from datetime import timedelta

from aiohttp import web

from bot.http.api.base import (
    CALLER,
    Handler,
    Param,
    RouteTable,
    caller,
    engine_of,
    json_body,
    ok,
)
from bot.http.api.errors import ApiError, fault
from core.auth.service import INVALID_LOGIN, AuthError
from core.models.execution import isoformat

logger = logging.getLogger(__name__)
UNAUTHENTICATED = "Unauthorized - One of Token or API key required."
INVALID = "Unauthorized - Invalid or expired token or API key."
routes = RouteTable("auth")

TOKEN_SCHEMA = {
    "type": "object",
    "required": ["user", "token", "expiry"],
    "properties": {
        "id": {"type": "string"},
        "user": {"type": "string"},
        "token": {"type": "string"},
        "expiry": {"type": "string"},
        "metadata": {"type": "object"},
    },
}


def public_path(method: str, path: str, public: frozenset[str]) -> bool:
    # Webhook deliveries check their own auth (per hook: HMAC, API key or none).
    return path in public or (method == "POST" and path.startswith("/api/v1/webhooks"))


def auth_middleware(public: frozenset[str]) -> web.middleware:  # type: ignore[valid-type]
    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if not path.startswith(("/api/v1", "/stream/v1")) or public_path(
            request.method, path, public
        ):
            return await handler(request)
        auth = engine_of(request).auth
        who = await auth.authenticate(request.headers, request.query)
        if who is None:
            presented = any(
                name in request.headers for name in ("St2-Api-Key", "X-Auth-Token")
            ) or any(name in request.query for name in ("st2-api-key", "x-auth-token"))
            return fault(401, INVALID if presented else UNAUTHENTICATED)
        request[CALLER] = who
        return await handler(request)

    return authenticate


@routes.add(
    "POST",
    "/auth/v1/tokens",
    "Log in with HTTP Basic (a Squall user with a password) and get a token",
    body={"type": "object", "properties": {"ttl": {"type": "integer"}}},
    status=201,
    response=TOKEN_SCHEMA,
    public=True,
)
async def create_token(request: web.Request) -> web.Response:
    name, password = _basic_credentials(request.headers.get("Authorization", ""))
    body = await json_body(request)
    ttl = body.get("ttl")
    if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool)):
        raise ApiError(400, "ttl: expected an integer number of seconds")
    remote = request.remote or "unknown"
    auth = engine_of(request).auth
    try:
        plaintext, token = await auth.login(
            name, password, remote, None if ttl is None else timedelta(seconds=ttl)
        )
    except AuthError as refused:
        headers = (
            {"Retry-After": str(int(refused.retry_after) + 1)} if refused.status == 429 else {}
        )
        raise ApiError(refused.status, refused.message, headers) from None
    logger.info("token issued to %s from %s", token.user, remote)
    return ok(
        {
            "id": token.id,
            "user": token.user,
            "token": plaintext,
            "expiry": isoformat(token.expiry),
            "metadata": {},
        },
        status=201,
    )


@routes.add(
    "POST",
    "/auth/v1/tokens/validate",
    "Whether a token is valid",
    body={"type": "object", "properties": {"token": {"type": "string"}}},
    response={"type": "object", "properties": {"valid": {"type": "boolean"}}},
    public=True,
)
async def validate_token(request: web.Request) -> web.Response:
    body = await json_body(request)
    text = body.get("token")
    valid = isinstance(text, str) and await engine_of(request).auth.by_token(text) is not None
    return ok({"valid": valid})


@routes.add(
    "GET",
    "/api/v1/user",
    "The authenticated user",
    response={"type": "object", "properties": {"username": {"type": "string"}}},
)
async def whoami(request: web.Request) -> web.Response:
    who = caller(request)
    return ok(
        {
            "username": who.user.name,
            "authentication": {"method": who.method, "location": "header"},
            "roles": list(who.user.roles),
            "is_rbac_enabled": True,
            "is_admin": "admin" in who.user.roles,
            "rbac": {"enabled": True, "roles": list(who.user.roles)},
        }
    )


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded or len(encoded) > 4096:
        raise ApiError(401, INVALID_LOGIN)
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(401, INVALID_LOGIN) from None
    name, sep, password = decoded.partition(":")
    if not sep or not name:
        raise ApiError(401, INVALID_LOGIN)
    return name, password


__all__ = ["Param", "auth_middleware", "routes"]

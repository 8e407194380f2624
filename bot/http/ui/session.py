"""Console sessions: a signed-in browser holds a Squall auth token in an HttpOnly,
``SameSite=Strict`` cookie; it expires with the token, and signing out revokes it. The cookie is
``Secure`` when the browser reached Squall over HTTPS — the listener speaks plain HTTP, so that
is what a proxy in ``http.trusted_proxies`` says (``X-Forwarded-Proto`` or ``Forwarded:
proto=``; the header of any other peer is ignored) — or always with ``http.secure_cookies``.

Every POST carries a CSRF token (a form field ``csrf`` or the ``X-CSRF-Token`` header): an HMAC
of the session token, so it needs no storage and dies with the session. The sign-in form is
protected the same way by a short-lived random cookie of its own.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web

from bot.http.api.base import CALLER, Handler, engine_of
from core.auth.service import Caller

PREFIX = "/ui/"
COOKIE = "squall_session"
LOGIN_COOKIE = "squall_login"
OPEN_PATHS = ("/ui/login", "/ui/static/")
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class Session:
    caller: Caller
    plaintext: str


SESSION = web.RequestKey("squall_ui_session", Session)


def csrf_token(plaintext: str) -> str:
    return hmac.new(plaintext.encode(), b"squall-ui-csrf", hashlib.sha256).hexdigest()


def new_login_nonce() -> str:
    return secrets.token_urlsafe(24)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.lru_cache(maxsize=8)
def _networks(proxies: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(proxy) for proxy in proxies)


def _trusted(peer: str | None, proxies: Sequence[str]) -> bool:
    if not peer or not proxies:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:  # a unix socket, say
        return False
    return any(address in network for network in _networks(tuple(proxies)))


def _forwarded_proto(request: web.Request) -> str:
    """What the nearest proxy says the browser used (it adds the last value)."""
    if request.forwarded:
        return str(request.forwarded[-1].get("proto", "")).lower()
    values = request.headers.get("X-Forwarded-Proto", "").split(",")
    return values[-1].strip().lower()


def over_https(request: web.Request) -> bool:
    """Whether the console's cookies are to be ``Secure`` for this request."""
    http = engine_of(request).settings.http
    if http.secure_cookies == "always" or request.secure:
        return True
    return _trusted(request.remote, http.trusted_proxies) and _forwarded_proto(request) == "https"


def set_cookie(
    request: web.Request, response: web.StreamResponse, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path=PREFIX, httponly=True, samesite="Strict",
        secure=over_https(request),
    )  # fmt: skip


def del_cookie(request: web.Request, response: web.StreamResponse, name: str) -> None:
    response.del_cookie(
        name, path=PREFIX, httponly=True, samesite="Strict", secure=over_https(request)
    )


async def session_of(request: web.Request) -> Session | None:
    plaintext = request.cookies.get(COOKIE, "")
    if not plaintext:
        return None
    auth = engine_of(request).auth
    token = await auth.by_token(plaintext)
    if token is None or token.kind != "user":
        return None
    return Session(Caller(auth.user(token.user), "token", token=token), plaintext)


async def posted_csrf(request: web.Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    form = await request.post()
    value = form.get(CSRF_FIELD)
    return value if isinstance(value, str) else ""


@web.middleware
async def console_sessions(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Pages need a session (else to the sign-in page); POSTs need its CSRF token (else 403)."""
    if not request.path.startswith(PREFIX) or request.path.startswith(OPEN_PATHS):
        return await handler(request)
    session = await session_of(request)
    if session is None:
        if request.method != "GET":
            return web.Response(status=401, text="Sign in first: /ui/login")
        raise web.HTTPSeeOther(f"/ui/login?next={request.path_qs}")
    if request.method != "GET":
        given = await posted_csrf(request)
        if not hmac.compare_digest(given.encode(), csrf_token(session.plaintext).encode()):
            return web.Response(status=403, text="Forbidden: missing or wrong CSRF token")
    request[SESSION] = session
    request[CALLER] = session.caller  # the API's own checks name the same caller
    return await handler(request)

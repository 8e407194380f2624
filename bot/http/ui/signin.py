"""``/ui/login`` and ``/ui/logout``: a Squall user's password or an API key opens a session
(bot.http.ui.session); signing out revokes its token."""

from __future__ import annotations

import hmac
import logging
from datetime import timedelta

from aiohttp import web

from bot.http.api.base import engine_of
from bot.http.ui.render import render
from bot.http.ui.session import (
    COOKIE,
    LOGIN_COOKIE,
    PREFIX,
    SESSION,
    del_cookie,
    new_login_nonce,
    set_cookie,
)
from core.auth.service import KEYLESS_USER_PREFIX, AuthError

logger = logging.getLogger(__name__)
SESSION_TTL = timedelta(hours=8)
LOGIN_FORM_TTL = 600


def _next_page(text: str) -> str:
    # Only a console page: never an absolute or scheme-relative URL (an open redirect).
    return text if text.startswith(PREFIX) and not text.startswith("//") else "/ui/executions"


def see_other(location: str) -> web.Response:
    """A redirect that carries cookies (aiohttp deprecates returning an HTTPException)."""
    return web.Response(status=303, headers={"Location": location})


def _form(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    nonce = new_login_nonce()
    response = render(
        request, "login.html", status=status, nonce=nonce, error=error,
        next=_next_page(request.query.get("next", "")),
    )  # fmt: skip
    set_cookie(request, response, LOGIN_COOKIE, nonce, LOGIN_FORM_TTL)
    return response


async def login_page(request: web.Request) -> web.Response:
    return _form(request)


async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    nonce = str(form.get("nonce", ""))
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(nonce.encode(), expected.encode()):
        return web.Response(status=403, text="Forbidden: missing or wrong CSRF token")
    auth = engine_of(request).auth
    remote = request.remote or "unknown"
    key = str(form.get("api_key", "")).strip()
    try:
        if key:
            found = await auth.by_api_key(key)
            if found is None:
                raise AuthError(401, "Unknown API key")
            name = found.user or f"{KEYLESS_USER_PREFIX}{found.id}"
            plaintext, _ = await auth.issue(name, ttl=SESSION_TTL)
        else:
            name = str(form.get("username", "")).strip()
            password = str(form.get("password", ""))
            plaintext, _ = await auth.login(name, password, remote, SESSION_TTL)
    except AuthError as refused:
        return _form(request, refused.message, status=refused.status)
    logger.info("console session opened for %s from %s", name, remote)
    response = see_other(_next_page(str(form.get("next", ""))))
    set_cookie(request, response, COOKIE, plaintext, int(SESSION_TTL.total_seconds()))
    del_cookie(request, response, LOGIN_COOKIE)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    session = request[SESSION]
    if session.caller.token is not None:
        await engine_of(request).auth.revoke(session.caller.token)
    response = see_other("/ui/login")
    del_cookie(request, response, COOKIE)
    return response

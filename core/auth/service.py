"""Authentication for the REST API: who a request acts as, from an API key or a token.

Logins check a scrypt hash off the event loop; failures are throttled per user name and per
address and audited (``auth.login``), successes are audited too. Tokens and keys are looked up
by their hash; an expired or revoked one is the same 401 as an unknown one.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.auth.passwords import hash_password, verify_password
from core.auth.throttle import LoginThrottle
from core.auth.tokens import MAX_TOKEN_CHARS, Token, TokenKind, hash_token
from core.authz.audit import AuditLog
from core.authz.authorizer import Authorizer, SquallUser
from core.models.apikey import ApiKey
from core.models.execution import utcnow
from core.store.base import Store
from core.webhooks.apikeys import MAX_KEY_CHARS, hash_api_key

INVALID_LOGIN = "Invalid or missing credentials"
ADDRESS_FACTOR = 4
# Who a key without a user acts as: nobody configured, so the default role only.
KEYLESS_USER_PREFIX = "apikey:"


@functools.cache
def _decoy() -> str:
    return hash_password(secrets.token_hex(16))


def _verify(password: str, stored: str | None) -> bool:
    return verify_password(password, stored or _decoy())


class AuthError(Exception):
    """401 (bad credentials) or 429 (throttled), with st2's faultstring."""

    def __init__(self, status: int, message: str, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class AuthOptions:
    token_ttl: timedelta = timedelta(hours=24)
    max_token_ttl: timedelta = timedelta(days=30)
    action_token_ttl: timedelta = timedelta(hours=1)
    max_login_failures: int = 5
    login_window_seconds: float = 300.0


@dataclass(frozen=True)
class Caller:
    """An authenticated request: the Squall user and how it proved who it is."""

    user: SquallUser
    method: str  # "token" or "api_key"
    token: Token | None = None
    api_key: ApiKey | None = None


class AuthService:
    def __init__(
        self,
        store: Store,
        authz: Authorizer,
        audit: AuditLog,
        options: AuthOptions = AuthOptions(),
        *,
        now: Callable[[], datetime] = utcnow,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._authz = authz
        self._audit = audit
        self.options = options
        self._now = now
        self._clock = clock
        window = options.login_window_seconds
        self._users = LoginThrottle(options.max_login_failures, window)
        # Looser per address: many people may share one (a proxy, an office NAT).
        self._addresses = LoginThrottle(options.max_login_failures * ADDRESS_FACTOR, window)

    def user(self, name: str) -> SquallUser:
        """A configured user, or an unconfigured name with the default role only."""
        found = self._authz.user_named(name)
        return found or SquallUser(name, (self._authz.config.default_role,))

    async def set_password(self, name: str, password: str) -> None:
        if self._authz.user_named(name) is None:
            raise LookupError(f"user {name!r} is not configured (see `users:` in the config)")
        stored = await asyncio.to_thread(hash_password, password)
        await self._store.credentials.set_password(name, stored, self._now())
        # A new password ends every session the old one opened.
        await self._store.credentials.revoke_tokens_of(name, self._now())

    async def login(
        self, name: str, password: str, remote: str, ttl: timedelta | None = None
    ) -> tuple[str, Token]:
        now = self._clock()
        wait = max(self._users.retry_after(name, now), self._addresses.retry_after(remote, now))
        if wait > 0:
            await self._audit_login(name, remote, False, "throttled: too many failed logins")
            raise AuthError(429, "Too many failed logins; try again later", retry_after=wait)
        stored = await self._store.credentials.password_of(name)
        # An unknown user costs the same scrypt run: timing does not tell who has a password.
        checked = await asyncio.to_thread(_verify, password, stored)
        ok = stored is not None and checked
        if not ok or self._authz.user_named(name) is None:
            self._users.failed(name, now)
            self._addresses.failed(remote, now)
            await self._audit_login(name, remote, False, "wrong user name or password")
            raise AuthError(401, INVALID_LOGIN)
        self._users.succeeded(name)
        await self._audit_login(name, remote, True, "password accepted")
        return await self.issue(name, ttl=self._bounded(ttl))

    def _bounded(self, ttl: timedelta | None) -> timedelta:
        if ttl is None or ttl <= timedelta(0):
            return self.options.token_ttl
        if ttl > self.options.max_token_ttl:
            raise AuthError(400, f"ttl: at most {int(self.options.max_token_ttl.total_seconds())}")
        return ttl

    async def issue(
        self,
        name: str,
        *,
        ttl: timedelta | None = None,
        kind: TokenKind = "user",
        execution_id: str | None = None,
    ) -> tuple[str, Token]:
        plaintext, token = Token.issue(
            name, self._now(), ttl or self.options.token_ttl, kind, execution_id
        )
        await self._store.credentials.insert_token(token)
        return plaintext, token

    async def revoke(self, token: Token) -> bool:
        return await self._store.credentials.revoke_token(token.id, self._now())

    async def by_token(self, plaintext: str) -> Token | None:
        if not plaintext or len(plaintext) > MAX_TOKEN_CHARS:
            return None
        token = await self._store.credentials.find_token(hash_token(plaintext))
        return token if token is not None and token.valid_at(self._now()) else None

    async def by_api_key(self, plaintext: str) -> ApiKey | None:
        if not plaintext or len(plaintext) > MAX_KEY_CHARS:
            return None
        return await self._store.api_keys.find_by_hash(hash_api_key(plaintext))

    async def authenticate(
        self, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> Caller | None:
        """The caller of a request (st2's headers, then its query parameters), or None."""
        key = headers.get("St2-Api-Key") or query.get("st2-api-key")
        token_text = headers.get("X-Auth-Token") or query.get("x-auth-token")
        if key is None and token_text is not None and token_text.startswith("sqk_"):
            key, token_text = token_text, None  # webhook senders may put a key there
        if key:
            found = await self.by_api_key(key)
            if found is None:
                return None
            name = found.user or f"{KEYLESS_USER_PREFIX}{found.id}"
            return Caller(self.user(name), "api_key", api_key=found)
        if token_text:
            token = await self.by_token(token_text)
            return None if token is None else Caller(self.user(token.user), "token", token=token)
        return None

    async def _audit_login(self, name: str, remote: str, allowed: bool, reason: str) -> None:
        await self._audit.record(
            "auth.login",
            user=name[:200],
            identity=None,
            place={"remote": remote},
            subject={},
            allowed=allowed,
            reason=reason,
        )

"""The datastore as callers use it: names and scopes checked, secrets encrypted, TTLs applied.

Repositories store values exactly as given; this is the one place plaintext secrets become
ciphertext (core.kv.crypto, bound to the stored name and scope).
"""

from __future__ import annotations

from datetime import UTC, datetime

from core.kv.crypto import KeyRing
from core.kv.model import KeyValuePair
from core.kv.names import (
    SYSTEM,
    USER,
    canonical_scope,
    encode_user,
    expire_timestamp,
    stored_name,
)
from core.observe.secrets import report_secrets
from core.store.base import Store


class KeyValueService:
    """Datastore operations over ``store.kv`` with the key ring that seals secrets."""

    def __init__(self, store: Store, keys: KeyRing) -> None:
        self.store = store
        self.keys = keys

    async def set(
        self,
        name: str,
        value: str,
        *,
        scope: str = SYSTEM,
        user: str | None = None,
        secret: bool = False,
        ttl: int | None = None,
        description: str = "",
        now: datetime | None = None,
    ) -> KeyValuePair:
        """Create or replace a key; returns the pair as stored (a secret as ciphertext)."""
        if not isinstance(value, str):
            raise TypeError(f"datastore value for {name!r} must be a string")
        scope = canonical_scope(scope)
        expiry = expire_timestamp(ttl, now or datetime.now(UTC))
        pair = KeyValuePair(
            name=stored_name(name, scope, user),
            value=value,
            scope=scope,
            secret=secret,
            expire_timestamp=expiry,
            description=description,
        ).sealed(self.keys)
        if secret:
            report_secrets((value,))  # masked in the process log from now on
        await self.store.kv.put(pair)
        return pair

    async def get(
        self, name: str, *, scope: str = SYSTEM, user: str | None = None, decrypt: bool = False
    ) -> KeyValuePair | None:
        """The live pair, or None; ``decrypt`` opens a secret (raises ``DecryptionError``)."""
        scope = canonical_scope(scope)
        pair = await self.store.kv.get(scope, stored_name(name, scope, user))
        if pair is None or not decrypt:
            return pair
        return pair.opened(self.keys)

    async def delete(self, name: str, *, scope: str = SYSTEM, user: str | None = None) -> bool:
        scope = canonical_scope(scope)
        return await self.store.kv.delete(scope, stored_name(name, scope, user))

    async def list(
        self,
        prefix: str | None = None,
        *,
        scope: str = SYSTEM,
        user: str | None = None,
        decrypt: bool = False,
    ) -> list[KeyValuePair]:
        """Live pairs sorted by stored name; in the user scope, ``user``'s own keys only
        (every user's when ``user`` is None, for administrators)."""
        scope = canonical_scope(scope)
        # The store matches the stored-name prefix, so it needs the user as stored.
        owner = encode_user(user) if scope == USER and user is not None else None
        pairs = await self.store.kv.list(scope, prefix=prefix, user=owner)
        return [pair.opened(self.keys) for pair in pairs] if decrypt else pairs

    async def delete_expired(self, now: datetime | None = None) -> int:
        return await self.store.kv.delete_expired(now or datetime.now(UTC))

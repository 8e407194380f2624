"""A datastore item and how the API shows it (st2-format §12, security.md §1.3)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from core.kv.crypto import Keys, decrypt, encrypt
from core.kv.names import SYSTEM, USER, canonical_scope, split_user_key, st2_scope, validate_name
from core.models import MASK


@dataclass(frozen=True)
class KeyValuePair:
    """One key; ``name`` is the stored name (``<user>:<key>`` in the user scope).

    ``encrypted`` means ``value`` holds a :mod:`core.kv.crypto` token rather than plaintext;
    only secrets are ever encrypted. ``value`` stays out of ``repr`` so a logged pair never
    shows a secret.
    """

    name: str
    value: str = field(repr=False)
    scope: str = SYSTEM
    secret: bool = False
    encrypted: bool = False
    expire_timestamp: datetime | None = None
    description: str = ""

    def __post_init__(self) -> None:
        validate_name(self.name)
        # Store the canonical spelling so equal pairs compare equal whatever the API sent.
        object.__setattr__(self, "scope", canonical_scope(self.scope))
        if self.scope == USER:
            split_user_key(self.name)
        if self.encrypted and not self.secret:
            raise ValueError(f"datastore key {self.name!r} is encrypted but not secret")
        if self.expire_timestamp is not None and self.expire_timestamp.tzinfo is None:
            raise ValueError(f"datastore key {self.name!r} has a naive expire_timestamp")

    def sealed(self, keys: Keys) -> KeyValuePair:
        """This pair as stored: a secret's plaintext replaced by its ciphertext token."""
        if not self.secret or self.encrypted:
            return self
        token = encrypt(keys, self.value, name=self.name, scope=self.scope)
        return replace(self, value=token, encrypted=True)

    def opened(self, keys: Keys) -> KeyValuePair:
        """This pair with its plaintext; raises ``DecryptionError`` for a bad token."""
        if not self.encrypted:
            return self
        plain = decrypt(keys, self.value, name=self.name, scope=self.scope)
        return replace(self, value=plain, encrypted=False)

    def to_api(self, decrypt: bool, keys: Keys | None = None) -> dict[str, Any]:
        """The st2 API item; ``decrypt`` must only be true for an allowed caller.

        A secret shows its ciphertext (as st2 does), or ``MASK`` when only the plaintext is
        at hand; with ``decrypt`` it shows the plaintext, which needs ``keys`` if encrypted.
        """
        item: dict[str, Any] = {
            "name": self.name,
            "value": self._api_value(decrypt, keys),
            "secret": self.secret,
            "encrypted": self.encrypted and not decrypt,
            "scope": st2_scope(self.scope),
            "expire_timestamp": _iso(self.expire_timestamp),
            "description": self.description,
            "uid": f"key_value_pair:{st2_scope(self.scope)}:{self.name}",
        }
        if self.scope == USER:
            item["user"] = split_user_key(self.name)[0]
        return item

    def _api_value(self, decrypt: bool, keys: Keys | None) -> str:
        if not self.secret:
            return self.value
        if not decrypt:
            return self.value if self.encrypted else MASK
        if not self.encrypted:
            return self.value
        if keys is None:
            raise ValueError(f"decrypting datastore key {self.name!r} needs the key ring")
        return self.opened(keys).value


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()

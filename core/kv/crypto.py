"""Authenticated encryption of secret datastore values (security.md §1.4).

AES-256-GCM with a random 96-bit nonce per value. The associated data binds a ciphertext
to its key id, scope and stored name, so a token copied onto another key fails to decrypt.
Tokens look like ``sq1:<key id>:<base64url(nonce | ciphertext+tag)>``; the key id lets a
:class:`KeyRing` keep decrypting values written before a key rotation.

``cryptography`` is imported at the first value sealed or opened (``_seal``, ``_open``), not at
start: its Rust core alone keeps about 8 MB resident, which a Squall that never stores or reads
a secret should not carry (README "Performance").
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.kv.names import canonical_scope

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # 96 bits, the GCM standard nonce size
TAG_BYTES = 16
TOKEN_VERSION = "sq1"
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Checked up front because the stdlib decoder silently skips characters outside the alphabet.
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
# Versioned domain label: a future token format can never verify under this one's AAD.
_AAD_LABEL = b"squall-kv-v1"


class DecryptionError(ValueError):
    """A token that cannot be decrypted; the message never carries plaintext or key bytes."""


def is_valid_key_id(key_id: str) -> bool:
    return isinstance(key_id, str) and _KEY_ID.fullmatch(key_id) is not None


@dataclass(frozen=True)
class DatastoreKey:
    """One AES-256 key; ``secret`` is excluded from ``repr`` so logs never show it."""

    id: str
    secret: bytes = field(repr=False)
    created: datetime

    def __post_init__(self) -> None:
        if not is_valid_key_id(self.id):
            raise ValueError(f"datastore key id {self.id!r} must match {_KEY_ID.pattern}")
        if len(self.secret) != KEY_BYTES:
            raise ValueError(
                f"datastore key {self.id!r} is {len(self.secret)} bytes (expected {KEY_BYTES})"
            )


def generate_key(*, key_id: str | None = None, now: datetime | None = None) -> DatastoreKey:
    """A fresh random key; the id is random too unless given."""
    return DatastoreKey(
        id=key_id or secrets.token_hex(6),
        secret=secrets.token_bytes(KEY_BYTES),
        created=now or datetime.now(UTC),
    )


@dataclass(frozen=True)
class KeyRing:
    """The current key (used to encrypt) plus older keys (still accepted to decrypt)."""

    current: DatastoreKey
    older: tuple[DatastoreKey, ...] = ()

    def __post_init__(self) -> None:
        ids = [key.id for key in self.keys]
        if len(set(ids)) != len(ids):
            raise ValueError(f"duplicate datastore key ids: {ids}")

    @property
    def keys(self) -> tuple[DatastoreKey, ...]:
        return (self.current, *self.older)

    def get(self, key_id: str) -> DatastoreKey | None:
        return next((key for key in self.keys if key.id == key_id), None)

    def rotated(self, new_key: DatastoreKey) -> KeyRing:
        """A ring where ``new_key`` encrypts and every existing key still decrypts."""
        return KeyRing(current=new_key, older=self.keys)


Keys = DatastoreKey | KeyRing


def _associated_data(key_id: str, name: str, scope: str) -> bytes:
    # Canonical scope, so ``st2kv.user`` and ``user`` bind identically.
    scope = canonical_scope(scope)
    # NUL separators keep ("a", "b:c") and ("a:b", "c") from producing the same bytes.
    parts = (_AAD_LABEL, key_id.encode(), scope.encode(), name.encode("utf-8"))
    return b"\0".join(parts)


def encrypt(key: Keys, plaintext: str, *, name: str, scope: str) -> str:
    """Encrypt ``plaintext`` for the key stored as ``name`` in ``scope``."""
    active = key.current if isinstance(key, KeyRing) else key
    nonce = os.urandom(NONCE_BYTES)
    aad = _associated_data(active.id, name, scope)
    sealed = _seal(active.secret, nonce, plaintext.encode("utf-8"), aad)
    body = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
    return f"{TOKEN_VERSION}:{active.id}:{body}"


def _parse(token: str) -> tuple[str, bytes]:
    if not isinstance(token, str):
        raise DecryptionError("datastore value is not an encrypted token")
    version, _, rest = token.partition(":")
    key_id, _, body = rest.partition(":")
    if version != TOKEN_VERSION:
        raise DecryptionError("datastore value is not a supported encrypted token")
    if not is_valid_key_id(key_id):
        raise DecryptionError("encrypted datastore value has a malformed key id")
    if _BASE64URL.fullmatch(body) is None:
        raise DecryptionError("encrypted datastore value is not valid base64url")
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except binascii.Error:
        raise DecryptionError("encrypted datastore value is not valid base64url") from None
    if len(raw) < NONCE_BYTES + TAG_BYTES:
        raise DecryptionError("encrypted datastore value is truncated")
    return key_id, raw


def decrypt(key: Keys, token: str, *, name: str, scope: str) -> str:
    """Decrypt a token made by :func:`encrypt` for the same ``name`` and ``scope``."""
    key_id, raw = _parse(token)
    ring = key if isinstance(key, KeyRing) else KeyRing(current=key)
    chosen = ring.get(key_id)
    if chosen is None:
        raise DecryptionError(f"datastore value was encrypted with unknown key id {key_id!r}")
    aad = _associated_data(key_id, name, scope)
    plain = _open(chosen.secret, raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
    if plain is None:
        raise DecryptionError(
            f"cannot decrypt datastore value {name!r}: it was tampered with, "
            "or encrypted for another key name or scope"
        )
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:  # pragma: no cover - GCM authenticated what encrypt() wrote
        raise DecryptionError(f"decrypted datastore value {name!r} is not UTF-8") from None


def _seal(secret: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # see the module docstring

    return AESGCM(secret).encrypt(nonce, plaintext, aad)


def _open(secret: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes | None:
    """The plaintext, or None when the tag does not verify (tampered, or another AAD)."""
    from cryptography.exceptions import InvalidTag  # see the module docstring
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    try:
        return AESGCM(secret).decrypt(nonce, sealed, aad)
    except InvalidTag:
        return None

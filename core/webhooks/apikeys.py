"""API keys for the webhook listener, st2-compatible on the wire (security.md §1.1).

Only a hash is stored. A plain SHA-256 is enough here, unlike for passwords: a key is 256 bits
from ``secrets``, so there is no dictionary to try and a brute force of the hash is as hopeless
as guessing the key itself. A slow KDF (bcrypt/scrypt) only buys time against *low*-entropy
inputs, and would cost a KDF run per webhook request. st2 does the same with salted SHA-512.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping

KEY_PREFIX = "sqk_"
HASH_PREFIX = "sha256:"
KEY_BYTES = 32
KEY_ID_CHARS = 12
# Far above a real key (4 + 43 chars); refuses megabyte "keys" before hashing them.
MAX_KEY_CHARS = 256

# st2's names (openapi securityDefinitions): headers first, query params as the fallback st2
# allows for senders that cannot set headers.
HEADER_NAMES = ("St2-Api-Key", "X-Auth-Token")
QUERY_NAMES = ("st2-api-key", "x-auth-token")


def generate_api_key() -> tuple[str, str]:
    """A new ``(plaintext key, stored hash)``. Show the key once; store only the hash."""
    key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    return key, hash_api_key(key)


def hash_api_key(key: str) -> str:
    """The storable form; the ``sha256:`` tag leaves room to change the scheme later."""
    return HASH_PREFIX + hashlib.sha256(key.encode()).hexdigest()


def key_id(key: str) -> str:
    """A short, non-secret handle for listing and revoking (a prefix of the stored hash)."""
    return key_id_of_hash(hash_api_key(key))


def key_id_of_hash(stored_hash: str) -> str:
    """The same handle computed from a stored hash, so listings need no plaintext."""
    return stored_hash.removeprefix(HASH_PREFIX)[:KEY_ID_CHARS]


def check_api_key(presented: str, stored_hashes: Iterable[str]) -> bool:
    """True if ``presented`` hashes to one of ``stored_hashes``; constant time per comparison."""
    if not presented or len(presented) > MAX_KEY_CHARS:
        return False
    digest = hash_api_key(presented).encode()
    # Visit every stored hash (no early exit) so timing does not reveal the position of a match.
    matches = [hmac.compare_digest(digest, stored.encode()) for stored in stored_hashes]
    return any(matches)


def extract_api_key(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The credential a request presents, from st2's headers (any case) or query params."""
    lowered = {name.lower(): value for name, value in headers.items()}
    for name in HEADER_NAMES:
        value = lowered.get(name.lower(), "").strip()
        if value:
            return value
    for name in QUERY_NAMES:
        value = query.get(name, "").strip()
        if value:
            return value
    return None

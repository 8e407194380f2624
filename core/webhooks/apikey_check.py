"""The API key check of a webhook request: find the presented key's hash among unrevoked keys.

The store is asked by hash (an index lookup), so no stored secret is compared byte by byte with
what the caller sent; the found hash is still compared in constant time before it is trusted.
Missing, unknown and revoked keys all get the same 401, so a caller learns nothing about which
keys exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from core.models.apikey import ApiKey
from core.webhooks.apikeys import (
    HEADER_NAMES,
    MAX_KEY_CHARS,
    check_api_key,
    extract_api_key,
    hash_api_key,
)
from core.webhooks.handler import WebhookError

MISSING = f"API key required: send it in the {' or '.join(HEADER_NAMES)} header"
REFUSED = "invalid or revoked API key"


class ApiKeyLookup(Protocol):
    """What the check needs from core.store.base.ApiKeyRepository."""

    async def find_by_hash(self, key_hash: str) -> ApiKey | None: ...


async def require_api_key(
    keys: ApiKeyLookup, headers: Mapping[str, str], query: Mapping[str, str]
) -> ApiKey:
    """The caller's unrevoked key, or WebhookError(401); store errors propagate (a 503)."""
    presented = extract_api_key(headers, query)
    if presented is None:
        raise WebhookError(401, MISSING)
    if len(presented) > MAX_KEY_CHARS:
        raise WebhookError(401, REFUSED)  # not worth a hash, nor a store round trip
    found = await keys.find_by_hash(hash_api_key(presented))
    if found is None or not check_api_key(presented, [found.key_hash]):
        raise WebhookError(401, REFUSED)
    return found

"""Mask credentials in request headers and query params before they are stored or logged.

st2 once persisted ``St2-Api-Key``/``X-Auth-Token``/``Cookie`` in trigger instances (security.md
§1.1, #4983); st2 now removes those three from the payload, and so does Squall
(``REMOVED_HEADERS``). Other credentials are masked, not dropped, so rules can still see that
such a header (a provider's signature, say) was present. Names match case-insensitively.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping

from core.models import MASK

# Removed from a webhook payload altogether, as st2 removes them (they authenticate to st2).
REMOVED_HEADERS = frozenset({"x-auth-token", "st2-api-key", "cookie"})
# Exact names whose value is a credential but whose name says nothing about it.
_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "st2-api-key",
        "x-auth-token",
        "x-hub-signature",
        "x-hub-signature-256",
        "x-slack-signature",
        "stripe-signature",
    }
)
# Any name containing one of these is treated as a credential.
_FRAGMENTS = (
    "token",
    "secret",
    "signature",
    "password",
    "passwd",
    "api-key",
    "api_key",
    "apikey",
    "credential",
)
# Query names are often terse (``?key=``, ``?sig=``); match those as whole words only, so
# ``monkey`` or ``signal`` are left alone. ``code`` is how Azure Functions and OAuth pass keys.
_QUERY_WORDS = frozenset({"key", "sig", "auth", "code", "session"})
_WORD_SPLIT = re.compile(r"[-_.\s]+")


def is_sensitive_header(name: str) -> bool:
    return _sensitive(name.lower())


# Memoized: every webhook delivery asks about the same few names (bounded: names come from
# callers).
@functools.lru_cache(maxsize=1024)
def _sensitive(lowered: str) -> bool:
    return lowered in _HEADERS or any(fragment in lowered for fragment in _FRAGMENTS)


def is_sensitive_query(name: str) -> bool:
    lowered = name.lower()
    words = set(_WORD_SPLIT.split(lowered))
    return is_sensitive_header(lowered) or not words.isdisjoint(_QUERY_WORDS)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``headers`` with every credential value replaced by ``********``."""
    return {name: MASK if is_sensitive_header(name) else value for name, value in headers.items()}


def payload_headers(
    headers: Mapping[str, str], masked: frozenset[str] = frozenset()
) -> dict[str, str]:
    """The headers a webhook payload keeps: st2's auth headers removed, other credentials
    masked, and the ``masked`` names (lower case) too. Names become plain ``str`` (aiohttp's
    are multidict ``istr``): as a reload from the store gives them, and what the store's JSON
    encoder (orjson) takes as keys without a detour."""
    kept: dict[str, str] = {}
    for name, value in headers.items():  # one pass: this runs for every delivery
        lowered = name.lower()
        if lowered not in REMOVED_HEADERS:
            masks = lowered in masked or _sensitive(lowered)
            kept[str(name)] = MASK if masks else value
    return kept


def redact_query(query: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``query`` with every credential value replaced by ``********``."""
    return {name: MASK if is_sensitive_query(name) else value for name, value in query.items()}

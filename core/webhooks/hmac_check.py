"""``verify``: check a webhook's HMAC signature over the raw body bytes (security.md §3.5).

Pure: the clock comes in as ``now`` and nothing is logged. Every comparison goes through
``hmac.compare_digest`` on the decoded digests.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.webhooks.signatures import BODY, DELIVERY_ID, TIMESTAMP, SignatureScheme, Verdict

# Unix seconds only: ``int()`` alone would accept "+1", " 1", "1_0" and non-ASCII digits.
_TIMESTAMP_RE = re.compile(r"[0-9]{1,15}")
_HEX_RE = re.compile(r"[0-9a-fA-F]+")


class _Reject(Exception):
    """Internal short-cut carrying a log-safe reason."""


@dataclass(frozen=True)
class _Presented:
    signatures: tuple[str, ...]
    timestamp: str | None


def verify(
    scheme: SignatureScheme,
    secret: bytes,
    headers: Mapping[str, str],
    body: bytes,
    now: float,
) -> Verdict:
    """Check ``body`` against the signature in ``headers`` (names matched case-insensitively)."""
    delivery_id: str | None = None
    try:
        lowered = _lower_headers(headers)
        if scheme.delivery_header is not None:
            delivery_id = _header(lowered, scheme.delivery_header)
        if not secret:
            # Fail closed: an empty key would make the HMAC forgeable by anyone.
            raise _Reject("no secret configured")
        presented = _presented(scheme, lowered)
        if presented.timestamp is not None:
            _check_fresh(scheme, presented.timestamp, now)
        message = _message(scheme.template, body, presented.timestamp, delivery_id)
        expected = hmac.digest(secret, message, scheme.algorithm)
        if not _any_match(scheme, expected, presented.signatures):
            raise _Reject("signature mismatch")
    except _Reject as rejected:
        return Verdict(ok=False, reason=str(rejected), delivery_id=delivery_id)
    return Verdict(ok=True, reason="ok", delivery_id=delivery_id)


def _lower_headers(headers: Mapping[str, str]) -> dict[str, list[str]]:
    # A multidict's items() may repeat a name; keep every value so duplicates can be refused.
    lowered: dict[str, list[str]] = {}
    for name, value in headers.items():
        lowered.setdefault(name.lower(), []).append(value)
    return lowered


def _header(lowered: Mapping[str, list[str]], name: str) -> str | None:
    values = lowered.get(name.lower(), [])
    if len(values) > 1:
        raise _Reject(f"duplicate header {name}")
    value = values[0].strip() if values else ""
    return value or None


def _required(lowered: Mapping[str, list[str]], name: str) -> str:
    value = _header(lowered, name)
    if value is None:
        raise _Reject(f"missing header {name}")
    return value


def _presented(scheme: SignatureScheme, lowered: Mapping[str, list[str]]) -> _Presented:
    raw = _required(lowered, scheme.header)
    if scheme.keyed:
        return _parse_keyed(scheme, raw)
    if not raw.startswith(scheme.prefix):
        raise _Reject(f"malformed header {scheme.header}: expected prefix {scheme.prefix!r}")
    timestamp = None
    if scheme.timestamp_header is not None:
        timestamp = _required(lowered, scheme.timestamp_header)
    return _Presented(signatures=(raw[len(scheme.prefix) :],), timestamp=timestamp)


def _parse_keyed(scheme: SignatureScheme, raw: str) -> _Presented:
    """Strictly parse ``t=<unix>,v1=<sig>,...``; keys other than t/v1 (e.g. v0) are ignored."""
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in raw.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or not key or not value:
            raise _Reject(f"malformed header {scheme.header}")
        if key == scheme.timestamp_key:
            timestamps.append(value)
        elif key == scheme.signature_key:
            signatures.append(value)
    if len(timestamps) != 1:
        raise _Reject(f"malformed header {scheme.header}: expected one {scheme.timestamp_key}=")
    if not signatures:
        raise _Reject(f"malformed header {scheme.header}: no {scheme.signature_key}= signature")
    return _Presented(signatures=tuple(signatures), timestamp=timestamps[0])


def _check_fresh(scheme: SignatureScheme, timestamp: str, now: float) -> None:
    if not _TIMESTAMP_RE.fullmatch(timestamp):
        raise _Reject("malformed timestamp")
    # Both directions: a far-future timestamp would otherwise stay replayable for a long time.
    if scheme.window is not None and abs(now - int(timestamp)) > scheme.window:
        raise _Reject(f"timestamp outside the {scheme.window} s window")


def _message(template: str, body: bytes, timestamp: str | None, delivery_id: str | None) -> bytes:
    # Splice the body in as bytes: decoding it would change what was signed.
    before, after = template.split(BODY)
    return _fill(before, timestamp, delivery_id) + body + _fill(after, timestamp, delivery_id)


def _fill(part: str, timestamp: str | None, delivery_id: str | None) -> bytes:
    if TIMESTAMP in part:
        part = part.replace(TIMESTAMP, timestamp or "")
    if DELIVERY_ID in part:
        if delivery_id is None:
            raise _Reject("missing delivery id")
        part = part.replace(DELIVERY_ID, delivery_id)
    return part.encode()


def _any_match(scheme: SignatureScheme, expected: bytes, presented: Iterable[str]) -> bool:
    # Compare against every candidate (no early exit) so timing doesn't say which one matched.
    matches = [hmac.compare_digest(expected, _decode(scheme, sig)) for sig in presented]
    return any(matches)


def _decode(scheme: SignatureScheme, signature: str) -> bytes:
    if scheme.encoding == "hex":
        if not _HEX_RE.fullmatch(signature):
            raise _Reject(f"malformed signature in header {scheme.header}")
        return bytes.fromhex(signature) if len(signature) % 2 == 0 else b""
    try:
        return base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        raise _Reject(f"malformed signature in header {scheme.header}") from None

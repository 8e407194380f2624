"""What a webhook signature check looks like (security.md §3.1, §3.4, §3.5), as plain data.

A ``SignatureScheme`` names no secret: secrets are passed to ``verify`` separately so a scheme
can be logged, compared and shown in ``squall hooks list`` without leaking anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Algorithm = Literal["sha1", "sha256", "sha512"]
Encoding = Literal["hex", "base64"]
ALGORITHMS: tuple[Algorithm, ...] = ("sha1", "sha256", "sha512")
ENCODINGS: tuple[Encoding, ...] = ("hex", "base64")

BODY = "{body}"
TIMESTAMP = "{timestamp}"
DELIVERY_ID = "{delivery_id}"


@dataclass(frozen=True)
class SignatureScheme:
    """A generic HMAC check over ``template`` with the raw body (and timestamp) filled in.

    ``keyed`` selects the Stripe header style ``t=<unix>,v1=<sig>[,v1=<sig>...]``: the timestamp
    comes from ``timestamp_key`` and every ``signature_key`` entry is a candidate (several are
    sent while a secret is being rotated). Otherwise the header holds one ``prefix + signature``
    and the timestamp, if any, comes from ``timestamp_header``.
    """

    header: str
    algorithm: Algorithm = "sha256"
    encoding: Encoding = "hex"
    prefix: str = ""
    template: str = BODY
    timestamp_header: str | None = None
    keyed: bool = False
    signature_key: str = "v1"
    timestamp_key: str = "t"
    window: int | None = None
    delivery_header: str | None = None

    def __post_init__(self) -> None:
        problem = scheme_problem(self)
        if problem is not None:
            raise ValueError(f"{problem[0]}: {problem[1]}")

    @property
    def timestamped(self) -> bool:
        return self.keyed or self.timestamp_header is not None


@dataclass(frozen=True)
class Verdict:
    """Outcome of one check. ``reason`` is safe to log: it never holds a secret or a signature.

    ``delivery_id`` is the provider's delivery header, for duplicate detection upstream; it is
    *not* covered by the signature unless the template includes ``{delivery_id}``.
    """

    ok: bool
    reason: str
    delivery_id: str | None = None


def scheme_problem(scheme: SignatureScheme) -> tuple[str, str] | None:
    """The first inconsistency as ``(field, message)``, or None; shared with config validation."""
    checks: list[tuple[bool, str, str]] = [
        (not scheme.header.strip(), "header", "must be a non-empty header name"),
        (scheme.algorithm not in ALGORITHMS, "algorithm", f"must be one of {_names(ALGORITHMS)}"),
        (scheme.encoding not in ENCODINGS, "encoding", f"must be one of {_names(ENCODINGS)}"),
        (scheme.template.count(BODY) != 1, "template", "must contain {body} exactly once"),
        # An unsigned timestamp could be rewritten by anyone replaying the request.
        (
            scheme.timestamped != (TIMESTAMP in scheme.template),
            "template",
            "must contain {timestamp} exactly when a timestamp is read",
        ),
        (
            DELIVERY_ID in scheme.template and scheme.delivery_header is None,
            "template",
            "uses {delivery_id} but no delivery_header is set",
        ),
        (
            scheme.timestamped != (scheme.window is not None),
            "window",
            "is required with a timestamp and meaningless without one",
        ),
        (scheme.window is not None and scheme.window <= 0, "window", "must be positive"),
        (scheme.keyed and bool(scheme.prefix), "prefix", "is not used with a keyed header"),
        (
            scheme.keyed and scheme.timestamp_header is not None,
            "timestamp_header",
            "is not used with a keyed header (the timestamp is in the header)",
        ),
    ]
    for failed, field, message in checks:
        if failed:
            return field, message
    return None


def _names(options: tuple[str, ...]) -> str:
    return ", ".join(options)

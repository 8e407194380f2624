"""Content-Encoding of a webhook body, decoded here with a cap (not by aiohttp: its decoder
can wait forever on a truncated stream, and a 500 is what a garbage gzip body got).

Pure: bytes in, bytes out, ``WebhookError`` (400, 413, 415) for what cannot be decoded.
"""

from __future__ import annotations

import zlib

from core.webhooks.handler import WebhookError

_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_DEFLATE_WBITS = -zlib.MAX_WBITS


def decode_body(content_encoding: str, raw: bytes, limit: int) -> bytes:
    """``raw`` decoded as ``content_encoding`` says (gzip, deflate, identity; several applied
    in order), refusing more than ``limit`` decoded bytes."""
    if not content_encoding:
        return raw
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    body = raw
    for coding in reversed(codings):  # the last one listed was applied last
        if coding == "identity":
            continue
        if coding in ("gzip", "x-gzip"):
            body = _inflate(body, _GZIP_WBITS, limit, coding)
        elif coding == "deflate":
            # RFC 9110 says zlib-wrapped; some clients send raw deflate.
            try:
                body = _inflate(body, _ZLIB_WBITS, limit, coding)
            except WebhookError as first:
                if first.status == 413:
                    raise
                body = _inflate(body, _RAW_DEFLATE_WBITS, limit, coding)
        else:
            raise WebhookError(415, f"unsupported Content-Encoding {coding!r}")
    return body


def _inflate(data: bytes, wbits: int, limit: int, coding: str) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error:
        raise WebhookError(400, f"body is not valid {coding} data") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise WebhookError(413, f"decoded body larger than {limit} bytes")
    if not inflater.eof:
        raise WebhookError(400, f"{coding} body is truncated")
    return out

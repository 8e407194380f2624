"""JSON text from outside (webhook and API bodies) → data every store can keep.

Python's json module reads ``1e310`` as ``inf`` and accepts the ``NaN``/``Infinity`` literals;
no store can write them (they are not JSON), so the request would fail later, after it was
accepted, with a server error. Refused here instead, as the bad input they are.

Read with orjson first (a small webhook body: ~0.5 µs instead of ~3 µs; json.loads with hooks
builds a new decoder per call), and with the standard library whenever orjson could read the
text differently or refuses it, so the result and every error message stay the standard
library's: a run of 19+ digits (orjson turns integers beyond 64 bits into floats), more than
``_ORJSON_MAX_NESTING`` brackets (orjson reads up to 1024 levels, json.loads hits the recursion
limit sooner), and anything orjson refuses (bad JSON, non-finite numbers, lone surrogates that
json.loads reads and the webhook route then refuses in its own words, non-UTF-8 bytes that
json.loads may read as UTF-16/32).
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

_ORJSON_MAX_NESTING = 512  # far below both readers' limits: depth ≤ the number of brackets
# Every digit → "0", so one substring search finds a run of 19 digits (a regex took ~5 µs
# on a 600-byte body, this ~0.3 µs).
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19


def loads(text: str | bytes) -> Any:
    """``json.loads`` with finite numbers only; ValueError (as json's own) otherwise."""
    if _orjson_reads_alike(text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # refused: json.loads decides, and says why in its own words
    return json.loads(text, parse_float=_finite, parse_constant=_refuse_constant)


def _orjson_reads_alike(text: str | bytes) -> bool:
    if isinstance(text, str):
        if not text.isascii():
            try:
                text = text.encode()
            except UnicodeEncodeError:  # a lone surrogate: orjson refuses it anyway
                return False
        else:
            text = text.encode("ascii")
    return text.count(b"{") + text.count(
        b"["
    ) <= _ORJSON_MAX_NESTING and _LONG_DIGITS not in text.translate(_DIGITS_AS_ZERO)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")

"""Stored documents as JSON text: orjson where it can, the standard library where it cannot.

Why orjson: encoding the documents of one webhook event (the trigger instance with its
headers, the rule enforcement, the execution twice) took ~55 µs of CPU with ``json.dumps`` and
takes ~5 µs with orjson (bench/webhooks.py's path costs ~600 µs per event in all). The text is
the same: compact separators, UTF-8 text not escaped.

What orjson refuses, ``json.dumps`` writes as before: integers beyond 64 bits, keys that are not
strings, text that is not valid UTF-8 (a lone surrogate). Datetimes and dataclasses are passed
through to it too, so they stay refused (TypeError) as ``json.dumps`` refuses them. One
difference: a float NaN or infinity becomes ``null`` (``json.dumps`` wrote ``NaN``, which is
not JSON and which SQLite's JSON functions refuse).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

Encode = Callable[[Any], str]


def _std(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def _load_encoder() -> Encode:
    """orjson, imported at the first document (not at startup: ~0.8 MB of RSS that an idle
    process does not need); the standard library in a venv built before orjson was a
    dependency (``make`` installs it)."""
    try:
        import orjson
    except ImportError:  # pragma: no cover
        return _std
    # Refused by json.dumps, so refused here too (orjson would write them).
    options = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
    fast = orjson.dumps

    def encode(doc: Any) -> str:
        try:
            return fast(doc, option=options).decode()
        except TypeError:  # orjson.JSONEncodeError too: let the standard library decide
            return _std(doc)

    return encode


_encoder: Encode | None = None


def dumps(doc: Any) -> str:
    """``doc`` as compact JSON text; TypeError/ValueError for what JSON cannot hold."""
    global _encoder
    if _encoder is None:
        _encoder = _load_encoder()
    return _encoder(doc)

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
from typing import Any

import orjson

# Refused by json.dumps, so refused here too (orjson would write them).
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _std(doc: Any) -> str:
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def dumps(doc: Any) -> str:
    """``doc`` as compact JSON text; TypeError/ValueError for what JSON cannot hold."""
    try:
        return orjson.dumps(doc, option=_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError too: let the standard library decide
        return _std(doc)

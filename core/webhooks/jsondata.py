"""JSON text from outside (webhook and API bodies) → data every store can keep.

Python's json module reads ``1e310`` as ``inf`` and accepts the ``NaN``/``Infinity`` literals;
no store can write them (they are not JSON), so the request would fail later, after it was
accepted, with a server error. Refused here instead, as the bad input they are.
"""

from __future__ import annotations

import json
import math
from typing import Any


def loads(text: str | bytes) -> Any:
    """``json.loads`` with finite numbers only; ValueError (as json's own) otherwise."""
    return json.loads(text, parse_float=_finite, parse_constant=_refuse_constant)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")

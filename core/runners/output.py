"""Post-processing of subprocess output shared by every runner (st2-format §2.4)."""

from __future__ import annotations

import json
from typing import Any

TRUNCATION_MARKER = "\n...[output truncated: {dropped} bytes over the {limit}-byte limit]"


def strip_trailing_newline(text: str) -> str:
    """Strip the last trailing ``\\n`` then ``\\r``, as StackStorm does."""
    if text.endswith("\n"):
        text = text[:-1]
    if text.endswith("\r"):
        text = text[:-1]
    return text


def decode_output(text: str) -> Any:
    """Strip one trailing newline; if the rest is valid JSON, return the decoded value."""
    text = strip_trailing_newline(text)
    try:
        return json.loads(text)
    except ValueError:
        return text


def cap_output(data: bytes, limit: int, dropped: int = 0) -> str:
    """Decode ``data`` (at most ``limit`` bytes kept) and mark how much was cut."""
    extra = max(0, len(data) - limit) + dropped
    text = data[:limit].decode("utf-8", errors="replace")
    if extra:
        text += TRUNCATION_MARKER.format(dropped=extra, limit=limit)
    return text

"""Approval ttl values of the alias ``approval`` extension."""

from __future__ import annotations

import pytest

from core.packs.aliases import parse_ttl


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90.0),
        (1.5, 1.5),
        ("90", 90.0),
        ("45s", 45.0),
        ("30m", 1800.0),
        (" 2h ", 7200.0),
        ("1d", 86400.0),
        ("0.5m", 30.0),
        (0, None),
        (-5, None),
        ("0m", None),
        (True, None),
        ("soon", None),
        ("30 minutes", None),
        ("", None),
    ],
)
def test_parse_ttl(value: object, seconds: float | None) -> None:
    assert parse_ttl(value) == seconds

"""JSON from outside: only numbers a store can keep (used by webhook and API bodies)."""

from __future__ import annotations

import pytest

from core.webhooks import jsondata


@pytest.mark.parametrize("text", ['{"a": 1e310}', "[-1e400]", "[NaN]", "[Infinity]", "[-Infinity]"])
def test_non_finite_numbers_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        jsondata.loads(text)


def test_ordinary_json_reads_as_json_does() -> None:
    assert jsondata.loads(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}

"""validate_value reuses a built validator per schema (core.params.validate): the verdicts are
those of a fresh validator, for every schema, however often and in whatever order."""

from __future__ import annotations

from typing import Any

import pytest

from core.params import validate
from core.params.errors import ParameterError

SCHEMAS: list[dict[str, Any]] = [
    {"type": "string"},
    {"type": "integer"},
    {"type": "string", "enum": ["a", "b"]},
    {"type": "string", "enum": ["a", "c"]},
    {"type": "object", "properties": {"n": {"type": "integer", "required": True}}},
    {"type": "array", "items": {"type": "integer"}},
    {"type": "string", "secret": True, "maxLength": 2},
]
VALUES: list[Any] = ["a", "b", "c", 1, {"n": 1}, {"n": "x"}, {}, [1, 2], [1, "x"], "abc"]


def _verdict(schema: dict[str, Any], value: Any) -> str | None:
    try:
        validate.validate_value("p", schema, value)
    except ParameterError as exc:
        return str(exc)
    return None


def test_cached_verdicts_equal_fresh_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = {}
    for i, schema in enumerate(SCHEMAS):
        for j, value in enumerate(VALUES):
            validate._VALIDATORS.clear()
            fresh[i, j] = _verdict(schema, value)
    assert any(v is None for v in fresh.values()) and any(v for v in fresh.values())
    monkeypatch.setattr(validate, "_MAX_VALIDATORS", 3)  # also across clears of a full cache
    for _ in range(2):
        for j, value in enumerate(VALUES):
            for i, schema in enumerate(SCHEMAS):
                assert _verdict(dict(schema), value) == fresh[i, j], (schema, value)
    assert len(validate._VALIDATORS) <= 3


def test_a_bad_schema_fails_every_time() -> None:
    for _ in range(2):
        with pytest.raises(ParameterError, match='Invalid schema for parameter "p"'):
            validate.validate_value("p", {"type": "nonsense"}, "x")

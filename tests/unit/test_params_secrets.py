"""mask_secrets / secret_values (security.md §1.3)."""

from __future__ import annotations

from typing import Any

from core.models import MASK
from core.params import mask_secrets, secret_values

SCHEMA: dict[str, Any] = {
    "user": {"type": "string"},
    "password": {"type": "string", "secret": True},
    "creds": {"type": "object", "secret": True},
    "pin": {"type": "integer", "secret": True},
    "conn": {
        "type": "object",
        "properties": {"host": {"type": "string"}, "token": {"type": "string", "secret": True}},
        "additionalProperties": {"type": "string", "secret": True},
    },
    "keys": {"type": "array", "items": {"type": "string", "secret": True}},
    "hosts": {"type": "array", "items": {"type": "string"}},
}

PARAMS: dict[str, Any] = {
    "user": "bob",
    "password": "hunter2",
    "creds": {"key": "k-1", "nested": ["n-2", 7]},
    "pin": 1234,
    "conn": {"host": "db", "token": "tok-3", "extra": "x-4"},
    "keys": ["ka", "kb"],
    "hosts": ["h1"],
    "unknown": "kept",
}


def test_mask_secrets() -> None:
    assert mask_secrets(SCHEMA, PARAMS) == {
        "user": "bob",
        "password": MASK,
        "creds": MASK,
        "pin": MASK,
        "conn": {"host": "db", "token": MASK, "extra": MASK},
        "keys": [MASK, MASK],
        "hosts": ["h1"],
        "unknown": "kept",
    }


def test_mask_secrets_does_not_mutate() -> None:
    params = {"password": "p", "conn": {"token": "t"}}
    mask_secrets(SCHEMA, params)
    assert params == {"password": "p", "conn": {"token": "t"}}


def test_mask_secret_even_when_none() -> None:
    # Like st2: the key is present, so its (absent) value is masked too.
    assert mask_secrets(SCHEMA, {"password": None}) == {"password": MASK}


def test_mask_secrets_tolerates_shape_mismatch() -> None:
    assert mask_secrets(SCHEMA, {"conn": "not-a-dict", "keys": "nope"}) == {
        "conn": "not-a-dict",
        "keys": "nope",
    }


def test_secret_values_longest_first() -> None:
    assert secret_values(SCHEMA, PARAMS) == [
        "hunter2",
        "tok-3",
        "1234",
        "k-1",
        "n-2",
        "x-4",
        "ka",
        "kb",
        "7",
    ]


def test_secret_values_skips_empty_and_none() -> None:
    assert secret_values(SCHEMA, {"password": "", "creds": None, "pin": None, "user": "u"}) == []

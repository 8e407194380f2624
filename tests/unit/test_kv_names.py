"""Datastore naming rules: scopes, namespaced names, TTL (st2-format §12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.kv import (
    KeyNameError,
    canonical_scope,
    expire_timestamp,
    local_key_name,
    split_user_key,
    st2_scope,
    stored_name,
    user_key_name,
    validate_name,
)
from core.kv.names import MAX_NAME_LENGTH

NOW = datetime(2026, 11, 22, 5, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("given_scope", "expected"),
    [("system", "system"), ("st2kv.system", "system"), ("user", "user"), ("st2kv.user", "user")],
)
def test_scope_aliases(given_scope: str, expected: str) -> None:
    assert canonical_scope(given_scope) == expected
    assert st2_scope(given_scope) == f"st2kv.{expected}"


@pytest.mark.parametrize("scope", ["", "global", "System", "st2kv", "st2kv.global", "st2kv.*"])
def test_unknown_scope(scope: str) -> None:
    with pytest.raises(KeyNameError, match="unknown datastore scope"):
        canonical_scope(scope)


@pytest.mark.parametrize("name", ["a", "a.b.c", "pack.Class:key", "user:key:more", "ключ ✓"])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("a\nb", "control"),
        ("a\x00b", "control"),
        ("a\x1bb", "control"),
        ("\x7f", "control"),
        ("x" * (MAX_NAME_LENGTH + 1), "max 512"),
    ],
)
def test_invalid_names(name: str, reason: str) -> None:
    with pytest.raises(KeyNameError, match=reason):
        validate_name(name)


def test_non_string_name() -> None:
    with pytest.raises(KeyNameError, match="must be a string"):
        validate_name(3)  # type: ignore[arg-type]


def test_name_at_the_length_cap_is_accepted() -> None:
    assert validate_name("x" * MAX_NAME_LENGTH)


def test_user_scoped_names() -> None:
    assert user_key_name("alice", "token") == "alice:token"
    assert user_key_name("alice", "a:b") == "alice:a:b"
    assert split_user_key("alice:a:b") == ("alice", "a:b")
    assert stored_name("token", "st2kv.user", user="alice") == "alice:token"
    assert stored_name("token", "system", user="alice") == "token"


def test_chat_identities_are_encoded_unambiguously() -> None:
    assert user_key_name("slack:T1:U1", "token") == "slack%3AT1%3AU1:token"
    assert split_user_key("slack%3AT1%3AU1:a:b") == ("slack:T1:U1", "a:b")
    # A literal "%3A" in a user name must not collide with an encoded ":".
    assert user_key_name("a%3Ab", "k") == "a%253Ab:k"
    assert split_user_key(user_key_name("a%3Ab", "k")) == ("a%3Ab", "k")
    assert user_key_name("a:b", "c") != user_key_name("a", "b:c")


@pytest.mark.parametrize("user", ["", " ", "a\nb"])
def test_user_names_that_would_break_namespacing(user: str) -> None:
    with pytest.raises(KeyNameError, match="user name"):
        user_key_name(user, "k")


def test_user_scope_needs_a_user() -> None:
    with pytest.raises(KeyNameError, match="needs a user"):
        stored_name("k", "user")


@pytest.mark.parametrize("stored", ["nocolon", ":k", "alice:"])
def test_split_rejects_non_user_names(stored: str) -> None:
    with pytest.raises(KeyNameError, match="not a user-scoped"):
        split_user_key(stored)


def test_local_key_name() -> None:
    assert local_key_name("mypack", "MyAction", "counter") == "mypack.MyAction:counter"
    with pytest.raises(KeyNameError, match="class name"):
        local_key_name("mypack", "My:Action", "counter")
    with pytest.raises(KeyNameError, match="empty"):
        local_key_name("mypack", "MyAction", "")


def test_namespaced_name_is_capped() -> None:
    with pytest.raises(KeyNameError, match="max"):
        user_key_name("alice", "x" * MAX_NAME_LENGTH)


@given(user=st.text(min_size=1), key=st.text(min_size=1))
def test_user_name_round_trip(user: str, key: str) -> None:
    try:
        stored = user_key_name(user, key)
    except KeyNameError:
        return  # the key itself was invalid
    assert split_user_key(stored) == (user, key)


def test_ttl_to_expire_timestamp() -> None:
    assert expire_timestamp(None, NOW) is None
    assert expire_timestamp(60, NOW) == NOW + timedelta(seconds=60)


@pytest.mark.parametrize("ttl", [0, -5, True, 1.5, "60"])
def test_invalid_ttl(ttl: object) -> None:
    with pytest.raises(KeyNameError, match="TTL"):
        expire_timestamp(ttl, NOW)  # type: ignore[arg-type]


def test_ttl_needs_aware_now_and_sane_size() -> None:
    with pytest.raises(KeyNameError, match="timezone-aware"):
        expire_timestamp(60, datetime(2026, 1, 1))
    with pytest.raises(KeyNameError, match="too large"):
        expire_timestamp(10**15, NOW)

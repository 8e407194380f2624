"""Pure pieces of REST API auth: password hashes, tokens, the failed-login throttle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.auth.passwords import hash_password, verify_password
from core.auth.throttle import LoginThrottle
from core.auth.tokens import Token, hash_token


def test_a_password_is_stored_as_a_salted_scrypt_hash() -> None:
    stored = hash_password("correct-horse")
    assert stored.startswith("scrypt$") and "correct-horse" not in stored
    assert hash_password("correct-horse") != stored  # a fresh salt each time
    assert verify_password("correct-horse", stored)
    assert not verify_password("correct-hors", stored)


@pytest.mark.parametrize("stored", ["", "plain", "bcrypt$1$2$3$x$y", "scrypt$x$8$1$AA==$AA=="])
def test_a_malformed_stored_hash_never_verifies(stored: str) -> None:
    assert not verify_password("anything", stored)


@pytest.mark.parametrize("bad", ["short", "x" * 1025])
def test_passwords_too_short_or_too_long_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="password too"):
        hash_password(bad)


def test_a_token_is_stored_by_hash_and_expires_or_is_revoked() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    plaintext, token = Token.issue("alice", now, timedelta(minutes=5))
    assert token.token_hash == hash_token(plaintext) and plaintext not in str(token.to_doc())
    assert token.valid_at(now + timedelta(minutes=4))
    assert not token.valid_at(now + timedelta(minutes=5))
    assert not token.revoke(now).valid_at(now)
    assert Token.from_doc(token.to_doc()) == token


def test_the_throttle_locks_a_key_until_its_oldest_failure_leaves_the_window() -> None:
    throttle = LoginThrottle(max_failures=3, window_seconds=60)
    for second in (0, 10, 20):
        assert throttle.retry_after("mallory", second) == 0
        throttle.failed("mallory", second)
    assert throttle.retry_after("mallory", 30) == 30  # until t=60
    assert throttle.retry_after("alice", 30) == 0  # other keys unaffected
    assert throttle.retry_after("mallory", 60) == 0
    throttle.failed("alice", 0)
    throttle.succeeded("alice")
    assert throttle.retry_after("alice", 1) == 0


def test_the_throttle_forgets_the_oldest_keys_past_its_bound() -> None:
    throttle = LoginThrottle(max_failures=1, window_seconds=60, max_keys=2)
    for name in ("a", "b", "c"):
        throttle.failed(name, 0)
    assert throttle.retry_after("a", 1) == 0
    assert throttle.retry_after("c", 1) > 0

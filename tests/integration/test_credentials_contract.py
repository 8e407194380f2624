"""The credentials repository (REST API passwords and tokens) on every store backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.auth.tokens import Token
from core.store import Store
from core.store.base import StoreError

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


async def test_passwords_are_upserted_by_user(store: Store) -> None:
    assert await store.credentials.password_of("alice") is None
    await store.credentials.set_password("alice", "scrypt$1", NOW)
    await store.credentials.set_password("alice", "scrypt$2", NOW)
    assert await store.credentials.password_of("alice") == "scrypt$2"


async def test_tokens_are_found_by_hash_until_revoked_and_expired_ones_collected(
    store: Store,
) -> None:
    _, live = Token.issue("alice", NOW, timedelta(hours=1))
    _, old = Token.issue("bob", NOW - timedelta(days=2), timedelta(hours=1))
    for token in (live, old):
        await store.credentials.insert_token(token)
    with pytest.raises(StoreError):
        await store.credentials.insert_token(live)
    assert await store.credentials.find_token(live.token_hash) == live
    assert await store.credentials.delete_tokens_expired_before(NOW) == 1
    assert await store.credentials.find_token(old.token_hash) is None
    assert await store.credentials.revoke_token(live.id, NOW)
    assert not await store.credentials.revoke_token(live.id, NOW)
    assert await store.credentials.find_token(live.token_hash) is None


async def test_all_tokens_of_a_user_are_revoked_at_once(store: Store) -> None:
    tokens = [Token.issue(user, NOW, timedelta(hours=1))[1] for user in ("alice", "alice", "bob")]
    for token in tokens:
        await store.credentials.insert_token(token)
    assert await store.credentials.revoke_tokens_of("alice", NOW) == 2
    assert await store.credentials.find_token(tokens[0].token_hash) is None
    assert await store.credentials.find_token(tokens[1].token_hash) is None
    assert await store.credentials.find_token(tokens[2].token_hash) == tokens[2]

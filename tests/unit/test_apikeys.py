"""API keys: generation, hashed storage, constant-time check, st2-style extraction (§1.1)."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from core.webhooks import check_api_key, extract_api_key, generate_api_key, hash_api_key, key_id
from core.webhooks.apikeys import KEY_PREFIX, MAX_KEY_CHARS, key_id_of_hash


def test_generated_key_shape() -> None:
    key, stored = generate_api_key()
    assert key.startswith(KEY_PREFIX)
    body = key.removeprefix(KEY_PREFIX)
    assert len(body) >= 43  # 32 bytes, url-safe base64 without padding
    assert set(body) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert stored == "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    assert key not in stored


def test_keys_are_unique() -> None:
    keys = {generate_api_key()[0] for _ in range(50)}
    assert len(keys) == 50


def test_check_accepts_own_key_only() -> None:
    key, stored = generate_api_key()
    other_key, other = generate_api_key()
    assert check_api_key(key, [other, stored])
    assert check_api_key(other_key, iter([stored, other]))
    assert not check_api_key(key, [other])
    assert not check_api_key(key, [])
    assert not check_api_key(key[:-1], [stored])
    # The stored hash itself is not a credential.
    assert not check_api_key(stored, [stored])


def test_check_refuses_empty_and_oversized() -> None:
    big = "a" * (MAX_KEY_CHARS + 1)
    assert not check_api_key("", [hash_api_key("")])
    assert not check_api_key(big, [hash_api_key(big)])


def test_key_id_is_short_stable_and_not_the_key() -> None:
    key, stored = generate_api_key()
    ident = key_id(key)
    assert ident == key_id(key) == key_id_of_hash(stored)
    assert len(ident) == 12
    assert ident not in key
    assert key_id(generate_api_key()[0]) != ident


@given(st.text(min_size=1, max_size=MAX_KEY_CHARS))
def test_check_round_trip(key: str) -> None:
    assert check_api_key(key, [hash_api_key(key)])
    assert not check_api_key(key + "x", [hash_api_key(key)])


def test_extract_from_headers_any_case() -> None:
    assert extract_api_key({"St2-Api-Key": "k1"}, {}) == "k1"
    assert extract_api_key({"st2-api-key": " k2 "}, {}) == "k2"
    assert extract_api_key({"X-AUTH-TOKEN": "t1"}, {}) == "t1"


def test_extract_prefers_header_over_query() -> None:
    headers = {"St2-Api-Key": "header-key", "X-Auth-Token": "token"}
    assert extract_api_key(headers, {"st2-api-key": "query-key"}) == "header-key"
    assert extract_api_key({"X-Auth-Token": "token"}, {"st2-api-key": "q"}) == "token"


def test_extract_from_query() -> None:
    assert extract_api_key({}, {"st2-api-key": "q1"}) == "q1"
    assert extract_api_key({}, {"x-auth-token": "q2"}) == "q2"


def test_extract_none() -> None:
    assert extract_api_key({}, {}) is None
    assert extract_api_key({"St2-Api-Key": "  "}, {"st2-api-key": ""}) is None
    assert extract_api_key({"Authorization": "Bearer x"}, {"token": "y"}) is None

"""Secret datastore values: AES-GCM tokens, key rotation, masking (security.md §1.3, §1.4)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.kv import (
    DatastoreKey,
    DecryptionError,
    KeyRing,
    KeyValuePair,
    decrypt,
    encrypt,
    generate_key,
)
from core.kv.crypto import NONCE_BYTES
from core.models import MASK

KEY = generate_key(key_id="k1")
OTHER = generate_key(key_id="k2")
NAME = "db.password"


def _flip_byte(token: str, index: int) -> str:
    prefix, _, body = token.rpartition(":")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[index % len(raw)] ^= 0x01
    return f"{prefix}:{base64.urlsafe_b64encode(bytes(raw)).decode().rstrip('=')}"


def test_round_trip_unicode() -> None:
    plain = "pä$$wörd ✓ 🔑 \n\t"
    token = encrypt(KEY, plain, name=NAME, scope="system")
    assert decrypt(KEY, token, name=NAME, scope="system") == plain


def test_token_is_versioned_printable_and_hides_plaintext() -> None:
    token = encrypt(KEY, "hunter2", name=NAME, scope="system")
    assert token.startswith("sq1:k1:")
    assert token.isprintable() and token.isascii()
    assert "hunter2" not in token


def test_fresh_nonce_per_value() -> None:
    tokens = {encrypt(KEY, "same", name=NAME, scope="system") for _ in range(20)}
    assert len(tokens) == 20


def test_scope_aliases_bind_identically() -> None:
    token = encrypt(KEY, "v", name="alice:k", scope="st2kv.user")
    assert decrypt(KEY, token, name="alice:k", scope="user") == "v"


@pytest.mark.parametrize("index", [0, NONCE_BYTES - 1, NONCE_BYTES, NONCE_BYTES + 3, -1])
def test_tampered_byte_fails(index: int) -> None:
    token = encrypt(KEY, "secret-value", name=NAME, scope="system")
    with pytest.raises(DecryptionError, match="tampered"):
        decrypt(KEY, _flip_byte(token, index), name=NAME, scope="system")


def test_wrong_key_with_same_id_fails() -> None:
    impostor = generate_key(key_id="k1")
    token = encrypt(KEY, "v", name=NAME, scope="system")
    with pytest.raises(DecryptionError):
        decrypt(impostor, token, name=NAME, scope="system")


def test_unknown_key_id_fails() -> None:
    token = encrypt(OTHER, "v", name=NAME, scope="system")
    with pytest.raises(DecryptionError, match="unknown key id 'k2'"):
        decrypt(KEY, token, name=NAME, scope="system")


def test_token_copied_to_another_name_fails() -> None:
    token = encrypt(KEY, "v", name="alice:token", scope="user")
    with pytest.raises(DecryptionError, match="another key name or scope"):
        decrypt(KEY, token, name="bob:token", scope="user")


def test_token_copied_to_another_scope_fails() -> None:
    token = encrypt(KEY, "v", name="a:b", scope="system")
    with pytest.raises(DecryptionError):
        decrypt(KEY, token, name="a:b", scope="user")


def test_swapped_key_id_fails() -> None:
    # Relabelling a token with another ring member's id must not pass authentication.
    ring = KeyRing(current=KEY, older=(OTHER,))
    token = encrypt(KEY, "v", name=NAME, scope="system").replace("sq1:k1:", "sq1:k2:")
    with pytest.raises(DecryptionError):
        decrypt(ring, token, name=NAME, scope="system")


@pytest.mark.parametrize(
    "token",
    [
        "",
        "plaintext",
        "sq2:k1:AAAA",
        "sq1:k1:",
        "sq1::AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "sq1:k1:AAAA",
        "sq1:k1:AAAA!AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "sq1:k 1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "sq1:k1:A",
    ],
)
def test_bad_format_fails(token: str) -> None:
    with pytest.raises(DecryptionError):
        decrypt(KEY, token, name=NAME, scope="system")


def test_errors_never_carry_plaintext_or_key_material() -> None:
    token = encrypt(KEY, "hunter2", name=NAME, scope="system")
    for bad_key in (OTHER, generate_key(key_id="k1")):
        with pytest.raises(DecryptionError) as caught:
            decrypt(bad_key, token, name=NAME, scope="system")
        message = str(caught.value)
        assert "hunter2" not in message
        for key in (KEY, bad_key):
            assert key.secret.hex() not in message
            assert base64.b64encode(key.secret).decode() not in message
        # No chained cryptography exception that a traceback could print alongside.
        assert caught.value.__cause__ is None
        assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_ring_encrypts_with_current_and_decrypts_older() -> None:
    old_token = encrypt(KEY, "before", name=NAME, scope="system")
    ring = KeyRing(current=KEY).rotated(OTHER)
    assert ring.current is OTHER and ring.older == (KEY,)
    new_token = encrypt(ring, "after", name=NAME, scope="system")
    assert new_token.startswith("sq1:k2:")
    assert decrypt(ring, old_token, name=NAME, scope="system") == "before"
    assert decrypt(ring, new_token, name=NAME, scope="system") == "after"


def test_ring_rejects_duplicate_ids() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        KeyRing(current=KEY, older=(generate_key(key_id="k1"),))


def test_key_validation_and_repr_hides_secret() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        DatastoreKey(id="short", secret=b"x" * 16, created=datetime.now(UTC))
    with pytest.raises(ValueError, match="key id"):
        DatastoreKey(id="bad:id", secret=b"x" * 32, created=datetime.now(UTC))
    assert KEY.secret.hex() not in repr(KEY) and repr(KEY.secret) not in repr(KEY)


@given(
    plain=st.text(),
    name=st.text(min_size=1),
    scope=st.sampled_from(["system", "user", "st2kv.system", "st2kv.user"]),
)
def test_round_trip_property(plain: str, name: str, scope: str) -> None:
    plain = plain.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    name = name.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    token = encrypt(KEY, plain, name=name, scope=scope)
    assert decrypt(KEY, token, name=name, scope=scope) == plain


# --- KeyValuePair: sealing and the API's masking rules --------------------------------------


def _secret_pair() -> KeyValuePair:
    return KeyValuePair(name="api_token", value="hunter2", secret=True)


def test_sealed_pair_stores_ciphertext_and_opens_back() -> None:
    sealed = _secret_pair().sealed(KEY)
    assert sealed.encrypted and sealed.value.startswith("sq1:")
    assert sealed.opened(KEY) == _secret_pair()


def test_non_secret_pair_is_never_encrypted() -> None:
    pair = KeyValuePair(name="plain", value="v")
    assert pair.sealed(KEY) is pair
    assert pair.to_api(decrypt=False)["value"] == "v"


def test_api_shows_ciphertext_unless_decrypted() -> None:
    sealed = _secret_pair().sealed(KEY)
    shown = sealed.to_api(decrypt=False)
    assert shown["value"] == sealed.value and shown["encrypted"] is True
    opened = sealed.to_api(decrypt=True, keys=KeyRing(current=KEY))
    assert opened["value"] == "hunter2" and opened["encrypted"] is False


def test_api_masks_plaintext_secret_and_needs_keys_to_decrypt() -> None:
    assert _secret_pair().to_api(decrypt=False)["value"] == MASK
    assert _secret_pair().to_api(decrypt=True)["value"] == "hunter2"
    with pytest.raises(ValueError, match="key ring"):
        _secret_pair().sealed(KEY).to_api(decrypt=True)


def test_api_item_shape_for_user_scope() -> None:
    expiry = datetime(2026, 1, 1, tzinfo=UTC)
    pair = KeyValuePair(name="alice:k", value="v", scope="st2kv.user", expire_timestamp=expiry)
    assert pair.scope == "user"
    assert pair.to_api(decrypt=False) == {
        "name": "alice:k",
        "value": "v",
        "secret": False,
        "encrypted": False,
        "scope": "st2kv.user",
        "expire_timestamp": "2026-01-01T00:00:00+00:00",
        "description": "",
        "uid": "key_value_pair:st2kv.user:alice:k",
        "user": "alice",
    }


def test_pair_repr_hides_value() -> None:
    assert "hunter2" not in repr(_secret_pair())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "", "value": "v"},
        {"name": "k", "value": "v", "scope": "global"},
        {"name": "no-user-part", "value": "v", "scope": "user"},
        {"name": "k", "value": "v", "encrypted": True},
        {"name": "k", "value": "v", "expire_timestamp": datetime(2026, 1, 1)},
    ],
)
def test_pair_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        KeyValuePair(**kwargs)  # type: ignore[arg-type]

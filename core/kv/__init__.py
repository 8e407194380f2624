"""The key-value datastore: naming rules, secret encryption, the key file, the item model."""

from core.kv.crypto import (
    DatastoreKey,
    DecryptionError,
    KeyRing,
    Keys,
    decrypt,
    encrypt,
    generate_key,
)
from core.kv.keyfile import KeyFileError, load_key, load_or_create_key, rotate_key
from core.kv.model import KeyValuePair
from core.kv.names import (
    SCOPES,
    SYSTEM,
    USER,
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

__all__ = [
    "SCOPES",
    "SYSTEM",
    "USER",
    "DatastoreKey",
    "DecryptionError",
    "KeyFileError",
    "KeyNameError",
    "KeyRing",
    "KeyValuePair",
    "Keys",
    "canonical_scope",
    "decrypt",
    "encrypt",
    "expire_timestamp",
    "generate_key",
    "load_key",
    "load_or_create_key",
    "local_key_name",
    "rotate_key",
    "split_user_key",
    "st2_scope",
    "stored_name",
    "user_key_name",
    "validate_name",
]

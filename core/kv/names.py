"""Datastore naming rules (st2-format §12): scopes, namespaced key names, TTL → expiry.

Pure functions only; the store and services decide *who* may use a name.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from urllib.parse import unquote

SYSTEM = "system"
USER = "user"
SCOPES = (SYSTEM, USER)

# st2 spells scopes both ways in the API/CLI (``--scope user`` vs ``scope=st2kv.user``).
_ST2_PREFIX = "st2kv."
_SCOPE_ALIASES = {
    SYSTEM: SYSTEM,
    USER: USER,
    f"{_ST2_PREFIX}{SYSTEM}": SYSTEM,
    f"{_ST2_PREFIX}{USER}": USER,
}

# ``:`` separates namespaces (``user:key``, ``pack.Class:key``).
NAMESPACE_SEPARATOR = ":"
# What ``encode_user`` escapes: the separator, and ``%`` so decoding is unambiguous.
_USER_ESCAPES = re.compile("[%:]")

# st2 has no documented cap; ours keeps one key name from bloating indexes and log lines.
MAX_NAME_LENGTH = 512


class KeyNameError(ValueError):
    """A scope, key name, user name or TTL the datastore refuses."""


def canonical_scope(scope: str) -> str:
    """``system``/``user`` for any accepted spelling (``st2kv.system`` too)."""
    try:
        return _SCOPE_ALIASES[scope]
    except (KeyError, TypeError):
        allowed = ", ".join(sorted(_SCOPE_ALIASES))
        message = f"unknown datastore scope {scope!r} (expected one of: {allowed})"
        raise KeyNameError(message) from None


def st2_scope(scope: str) -> str:
    """The ``st2kv.<scope>`` spelling the st2 API returns."""
    return f"{_ST2_PREFIX}{canonical_scope(scope)}"


def _has_control_chars(text: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in text)


def validate_name(name: str) -> str:
    """Return ``name`` if it is a usable key name, else raise :class:`KeyNameError`."""
    if not isinstance(name, str):
        raise KeyNameError(f"datastore key name must be a string, not {type(name).__name__}")
    if not name.strip():
        raise KeyNameError("datastore key name must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise KeyNameError(
            f"datastore key name is {len(name)} characters long (max {MAX_NAME_LENGTH})"
        )
    if _has_control_chars(name):
        # Control characters would corrupt logs and chat output that echo key names.
        raise KeyNameError(f"datastore key name {name!r} contains control characters")
    return name


def _validate_namespace(kind: str, value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise KeyNameError(f"datastore {kind} must be a non-empty string")
    if NAMESPACE_SEPARATOR in value:
        # ``a:b`` + ``c`` and ``a`` + ``b:c`` would share a stored name, leaking one
        # namespace's keys to another.
        raise KeyNameError(f"datastore {kind} {value!r} must not contain {NAMESPACE_SEPARATOR!r}")
    if _has_control_chars(value):
        raise KeyNameError(f"datastore {kind} {value!r} contains control characters")
    return value


def encode_user(user: str) -> str:
    """The user part of a stored name: ``%`` and ``:`` percent-encoded, anything else as is.

    Chat identities (``slack:T1:U1``) contain ``:``; encoding keeps ``<user>:<key>``
    unambiguous while plain names keep st2's exact wire form (``alice:token``).
    """
    if not isinstance(user, str) or not user.strip():
        raise KeyNameError("datastore user name must be a non-empty string")
    if _has_control_chars(user):
        raise KeyNameError(f"datastore user name {user!r} contains control characters")
    return _USER_ESCAPES.sub(lambda match: f"%{ord(match.group()):02X}", user)


def decode_user(encoded: str) -> str:
    return unquote(encoded)


def user_key_name(user: str, name: str) -> str:
    """The stored name of a user-scoped key: ``<encoded user>:<key>``."""
    return validate_name(f"{encode_user(user)}{NAMESPACE_SEPARATOR}{validate_name(name)}")


def split_user_key(stored_name: str) -> tuple[str, str]:
    """``<encoded user>:<key>`` → ``(user, key)``; the key part may itself contain ``:``."""
    user, sep, name = stored_name.partition(NAMESPACE_SEPARATOR)
    if not sep or not user or not name:
        raise KeyNameError(f"{stored_name!r} is not a user-scoped key name ('<user>:<key>')")
    return decode_user(user), name


def local_key_name(pack: str, class_name: str, name: str) -> str:
    """A python action's ``local=True`` key: ``<pack>.<ClassName>:<name>``."""
    _validate_namespace("pack name", pack)
    _validate_namespace("class name", class_name)
    return validate_name(f"{pack}.{class_name}{NAMESPACE_SEPARATOR}{validate_name(name)}")


def stored_name(name: str, scope: str, user: str | None = None) -> str:
    """The name a key is stored under: unchanged for ``system``, ``<user>:<key>`` for ``user``."""
    if canonical_scope(scope) == SYSTEM:
        return validate_name(name)
    if user is None:
        raise KeyNameError("a user-scoped datastore key needs a user name")
    return user_key_name(user, name)


def expire_timestamp(ttl: int | None, now: datetime) -> datetime | None:
    """``now + ttl`` seconds, or ``None`` (never expires) when no TTL is given."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int):
        raise KeyNameError(f"datastore TTL must be an integer number of seconds, not {ttl!r}")
    if ttl <= 0:
        raise KeyNameError(f"datastore TTL must be positive, not {ttl}")
    if now.tzinfo is None:
        # Naive datetimes compare wrongly against stored UTC expiries.
        raise KeyNameError("datastore TTL needs a timezone-aware 'now'")
    try:
        return now + timedelta(seconds=ttl)
    except OverflowError:
        raise KeyNameError(f"datastore TTL {ttl} is too large") from None

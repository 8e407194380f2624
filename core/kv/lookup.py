"""What templates see as ``st2kv``, and the ``decrypt_kv`` filter (st2-format §12).

Jinja renders synchronously and the store is async, so ``kv_context`` prefetches the system
scope and the requesting user's scope once per request. Values are :class:`KvValue` strings:
a secret renders as its ciphertext (as in st2), and carries the name, scope and key ring that
``{{ st2kv.system.pw | decrypt_kv }}`` needs, since a token only decrypts for its own key.
"""

from __future__ import annotations

from typing import Any

from jinja2.exceptions import TemplateRuntimeError

from core.kv.crypto import DecryptionError, KeyRing, decrypt
from core.kv.decrypted import record_decryption
from core.kv.model import KeyValuePair
from core.kv.names import SYSTEM, USER, split_user_key
from core.kv.service import KeyValueService
from core.params.context import KeyValueLookup
from core.templates.render import register_filter

FILTER_NAME = "decrypt_kv"


class KvValue(str):
    """A datastore value as a template string, remembering where it came from.

    The key ring sits in an underscore attribute: the Jinja sandbox refuses those, so a
    template that somehow gets hold of this object still cannot read key bytes.
    """

    # Set in __new__; a str subclass cannot take them as constructor fields.
    name: str
    scope: str
    encrypted: bool
    _keys: KeyRing | None

    def __new__(cls, pair: KeyValuePair, keys: KeyRing | None) -> KvValue:
        value = super().__new__(cls, pair.value)
        value.name, value.scope, value.encrypted = pair.name, pair.scope, pair.encrypted
        value._keys = keys
        return value

    def plaintext(self) -> str:
        """The decrypted value; raises ``DecryptionError`` (also without a key ring)."""
        if not self.encrypted:
            return str(self)
        if self._keys is None:
            raise DecryptionError(f"no datastore key ring to decrypt {self.name!r}")
        return decrypt(self._keys, str(self), name=self.name, scope=self.scope)


async def kv_context(service: KeyValueService, user: str | None) -> dict[str, dict[str, Any]]:
    """``{"system": {...}, "user": {...}}`` for ``resolve_parameters(kv=...)``.

    User keys appear under their local name (``st2kv.user.x`` is ``<user>:x``). Loads every
    key of both scopes: fine for chat-sized datastores, to be replaced by per-key lookups.
    """
    system = await service.list(scope=SYSTEM)
    scopes: dict[str, dict[str, Any]] = {
        SYSTEM: {pair.name: KvValue(pair, service.keys) for pair in system},
        USER: {},
    }
    if user is not None:
        for pair in await service.list(scope=USER, user=user):
            scopes[USER][split_user_key(pair.name)[1]] = KvValue(pair, service.keys)
    return scopes


def decrypt_kv(value: Any) -> str:
    """The ``decrypt_kv`` filter: the plaintext of an ``st2kv`` secret; missing renders "".

    Only values that came from ``st2kv`` decrypt: a bare token has lost the name and scope
    that its encryption is bound to.
    """
    if isinstance(value, KeyValueLookup):
        # The lookup wraps the prefetched value and only exposes it as text.
        value = value._value()
    if value is None:
        return ""
    if not isinstance(value, KvValue):
        raise TemplateRuntimeError("decrypt_kv only applies to st2kv values")
    if not value.encrypted:
        raise TemplateRuntimeError(f"datastore key {value.name!r} is not encrypted")
    try:
        plaintext = value.plaintext()
    except DecryptionError as exc:
        raise TemplateRuntimeError(str(exc)) from None
    record_decryption(plaintext)
    return plaintext


def register() -> None:
    """Add ``decrypt_kv`` to the template environment (idempotent)."""
    register_filter(FILTER_NAME, decrypt_kv)


register()

r"""Reversible escaping of the keys MongoDB refuses in user data (parameters, results, context).

MongoDB rejects field names that contain ``.`` or NUL or start with ``$``, but action results
and parameters are arbitrary JSON (``{"content.type": …}``, ``{"$ref": …}``). Keys are escaped
JSON-style, with ``\`` as the escape character:

====================  ==========
in the key            stored as
====================  ==========
``\``                 ``\\``
``.``                 ``\u002e``
NUL                   ``\u0000``
``$`` (first char)    ``\u0024``
====================  ==========

Every other character, including a ``$`` after the first, is stored as is, so ordinary keys
(``user``, which the ``context.user`` index needs) are unchanged. Escaping is a bijection onto
the keys it produces: every ``\`` in a key is doubled, so a stored key splits into escapes and
plain characters in exactly one way, and ``unescape_key(escape_key(k)) == k`` for every ``k``.
It is not idempotent: escaping twice doubles the backslashes again.

Documents written before escaping existed can hold keys with a lone ``\``; ``unescape_key``
keeps a ``\`` that starts no escape as it is, so those still read back unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_ESCAPES = {"\\": "\\\\", ".": "\\u002e", "\0": "\\u0000", "$": "\\u0024"}
_UNESCAPES = {escaped: plain for plain, escaped in _ESCAPES.items()}
# ``\A\$``: only a leading ``$`` is refused; escaping the others too would be harmless but
# would change more keys than needed.
_TO_ESCAPE = re.compile(r"\A\$|[\\.\x00]")
# Alternatives are tried left to right at each ``\``, and ``\\`` consumes both backslashes,
# so ``\\u002e`` (an escaped ``\`` then ``u002e``) is never read as an escaped ``.``.
_TO_UNESCAPE = re.compile(r"\\(?:\\|u002e|u0000|u0024)")


def escape_key(key: str) -> str:
    return _TO_ESCAPE.sub(lambda m: _ESCAPES[m.group()], key)


def unescape_key(key: str) -> str:
    return _TO_UNESCAPE.sub(lambda m: _UNESCAPES[m.group()], key)


def escape_keys(value: Any) -> Any:
    """``value`` with every dict key at any depth escaped; other values are left alone."""
    return _map_keys(value, escape_key)


def unescape_keys(value: Any) -> Any:
    """The inverse of ``escape_keys``."""
    return _map_keys(value, unescape_key)


def _map_keys(value: Any, change: Callable[[str], str]) -> Any:
    if isinstance(value, dict):
        return {
            change(k) if isinstance(k, str) else k: _map_keys(v, change) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        # Tuples come back as lists, as they would from BSON or JSON anyway.
        return [_map_keys(v, change) for v in value]
    return value

"""The render context of parameter templates: ``st2kv``, ``action_context``, ``config_context``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Context names st2 provides to parameter templates (st2-format §2.3 step 1).
KV_NAME = "st2kv"
ACTION_CONTEXT_NAME = "action_context"
CONFIG_CONTEXT_NAME = "config_context"


class KeyValueLookup:
    """st2's ``{{ st2kv.system.a.b }}`` accessor: attribute/item access builds the key ``a.b``.

    Rendering (``str``) looks the key up in ``values``; a missing key renders as ``""`` (§12).
    ``values`` may be a lazy Mapping, so the datastore can check access per key.
    """

    __slots__ = ("_key", "_values")

    def __init__(self, values: Mapping[str, Any], key: str = "") -> None:
        self._values = values
        self._key = key

    def __getattr__(self, name: str) -> KeyValueLookup:
        # Private names stay real attribute errors so copy/pickle/repr protocols behave.
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> KeyValueLookup:
        return KeyValueLookup(self._values, f"{self._key}.{name}" if self._key else str(name))

    def _value(self) -> Any:
        return self._values.get(self._key) if self._key else None

    def __str__(self) -> str:
        value = self._value()
        return "" if value is None else str(value)

    def __repr__(self) -> str:
        return repr(str(self))

    def __int__(self) -> int:
        return int(float(str(self)))

    def __float__(self) -> float:
        return float(str(self))

    def __bool__(self) -> bool:
        return str(self) != ""

    def __eq__(self, other: object) -> bool:
        if isinstance(other, KeyValueLookup):
            return str(self) == str(other)
        return isinstance(other, str) and str(self) == other

    def __hash__(self) -> int:
        return hash(str(self))


def kv_context(kv: Mapping[str, Any] | None) -> dict[str, KeyValueLookup]:
    """``{"system": {...}, "user": {...}}`` → lookups; the user scope is already the caller's."""
    scopes: dict[str, Any] = {"system": {}, "user": {}, **(kv or {})}
    return {scope: KeyValueLookup(values) for scope, values in scopes.items()}


def build_context(
    *,
    action_context: Mapping[str, Any] | None,
    config_context: Mapping[str, Any] | None,
    kv: Mapping[str, Any] | None,
    extra_context: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The non-parameter names templates can read; ``extra_context`` (e.g. ``trigger``) wins."""
    return {
        KV_NAME: kv_context(kv),
        ACTION_CONTEXT_NAME: dict(action_context or {}),
        CONFIG_CONTEXT_NAME: dict(config_context or {}),
        **(extra_context or {}),
    }

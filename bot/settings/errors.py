"""Settings errors and the dotted paths that name where each one is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final


class _Invalid:
    """Stands in for a value that already produced an error, so it is reported only once."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Final = _Invalid()


class SettingsError(Exception):
    """Every problem found in one settings file, each prefixed by its dotted key path."""

    def __init__(self, errors: Sequence[str], source: str = "<defaults>") -> None:
        super().__init__(list(errors), source)
        self.errors = list(errors)
        self.source = source

    def __str__(self) -> str:
        return "\n".join(f"{self.source}: {error}" for error in self.errors)


def key_path(parent: str, key: object) -> str:
    return f"{parent}.{key}" if parent else str(key)


def item_path(parent: str, index: int) -> str:
    return f"{parent}[{index}]"


def describe(value: object) -> str:
    """Name a YAML value's kind for "expected X, got Y" messages."""
    if value is None:
        return "null"
    return _KINDS.get(type(value), type(value).__name__)


_KINDS: dict[type, str] = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "list",
    dict: "mapping",
}

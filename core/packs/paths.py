"""Safe file resolution inside a pack (security.md §4.4).

Every file the loader opens goes through ``resolve_inside``: the path is resolved with symlinks
followed and must land inside the resolved root. ``Path.is_relative_to`` compares path parts, so
``/packs/core_evil`` is not mistaken for a child of ``/packs/core`` (st2's string-prefix check is).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath


class UnsafePathError(ValueError):
    """A pack-relative path is absolute, escapes the pack, or leaves it through a symlink."""

    def __init__(self, relative: str, reason: str) -> None:
        super().__init__(f"{relative!r} {reason}")
        self.relative = relative
        self.reason = reason


def resolve_inside(root: Path, relative: str) -> Path:
    """Resolve ``relative`` against ``root`` and return it if it stays inside ``root``."""
    if not relative:
        raise UnsafePathError(relative, "is empty")
    if "\x00" in relative:
        raise UnsafePathError(relative, "contains a NUL byte")
    if PurePosixPath(relative).is_absolute():
        raise UnsafePathError(relative, "is absolute; give a path relative to the pack")
    base = _resolve(root, relative)
    lexical = Path(os.path.normpath(base / relative))
    if not lexical.is_relative_to(base):
        raise UnsafePathError(relative, "points outside the pack")
    target = _resolve(base / relative, relative)
    if not target.is_relative_to(base):
        raise UnsafePathError(relative, "leaves the pack through a symlink")
    return target


def _resolve(path: Path, relative: str) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: symlink loop on Python 3.11
        raise UnsafePathError(relative, "cannot be resolved (symlink loop?)") from exc


@dataclass(frozen=True)
class PackDir:
    """A pack directory twice: as the caller named it (for messages) and resolved (for I/O)."""

    shown: Path
    root: Path

    @classmethod
    def at(cls, path: Path) -> PackDir:
        return cls(shown=path, root=_resolve(path, str(path)))

    def shown_file(self, relative: str) -> Path:
        return self.shown / relative

    def resolve(self, relative: str) -> Path:
        return resolve_inside(self.root, relative)

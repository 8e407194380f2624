"""``validate_pack``: exactly what loading reports about one pack, for ``squall pack validate``.

The pack is loaded together with everything the configuration loads (``context_paths``, site
aliases), by ``load_packs`` itself, so references resolve as they will at run time and the
errors are the loader's own. Only errors in files under the pack's folder (or in the pack
config folder) are reported. Paths are compared as written, never through ``Path.resolve()``:
a symlink that leaves the pack must stay an error of the pack, not of where it points.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from core.packs.errors import PackError
from core.packs.loader import MANIFEST, load_packs


def validate_pack(
    path: Path,
    *,
    config_dir: Path | None = None,
    context_paths: Sequence[Path] = (),
    alias_paths: Sequence[Path] = (),
) -> list[PackError]:
    """Every problem of the pack at ``path`` (or of each pack in a directory of packs).

    An empty list means ``load_packs`` with the same context will load it cleanly.
    """
    target = _absolute(path)
    if not target.is_dir():
        reason = "does not exist" if not target.exists() else "is not a directory"
        return [PackError(path, "", f"pack path {reason}")]
    if not _holds_packs(target):
        return [PackError(path / MANIFEST, "", "not a pack: pack.yaml is missing")]
    contexts = [_absolute(p) for p in context_paths]
    loaded_already = any(target in (c, *_children(c)) for c in contexts)
    # A context inside the target (the target is a folder of packs holding it) comes along.
    contexts = [c for c in contexts if c == target or not c.is_relative_to(target)]
    paths = contexts if loaded_already else [*contexts, target]
    errors = load_packs(paths, config_dir=config_dir, alias_paths=alias_paths).errors
    mine = [target] + ([_absolute(config_dir)] if config_dir else [])
    return [e for e in errors if any(_absolute(e.file).is_relative_to(m) for m in mine)]


def _absolute(path: Path) -> Path:
    return Path(os.path.abspath(path))


def _holds_packs(path: Path) -> bool:
    return (path / MANIFEST).exists() or any((c / MANIFEST).exists() for c in _children(path))


def _children(path: Path) -> list[Path]:
    """The folders a directory of packs would load (as ``find_pack_dirs`` sees them)."""
    if not path.is_dir() or (path / MANIFEST).exists():
        return []
    return [c for c in path.iterdir() if c.is_dir() and not c.name.startswith((".", "__"))]

"""``validate_pack``: the loader's checks without an engine, for ``squall pack validate``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from core.packs.errors import PackError
from core.packs.loader import load_packs


def validate_pack(
    path: Path, *, config_dir: Path | None = None, context_paths: Sequence[Path] = ()
) -> list[PackError]:
    """Every problem of the pack at ``path`` (or of each pack in a directory of packs).

    ``context_paths`` (the bundled ``packs/`` first, then the configured pack paths) are loaded
    alongside so references to their actions and trigger types resolve; only errors in files
    under ``path`` are reported. An empty list means ``load_packs`` will load it cleanly.
    """
    target = path.resolve()
    others = [p for p in context_paths if not _overlaps(p.resolve(), target)]
    errors = load_packs([*others, path], config_dir=config_dir).errors
    if not others:
        return errors
    mine = [target] + ([config_dir.resolve()] if config_dir else [])
    return [e for e in errors if any(e.file.resolve().is_relative_to(m) for m in mine)]


def _overlaps(a: Path, b: Path) -> bool:
    return a.is_relative_to(b) or b.is_relative_to(a)

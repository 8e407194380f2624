"""``validate_pack``: the loader's checks without an engine, for ``squall pack validate``."""

from __future__ import annotations

from pathlib import Path

from core.packs.errors import PackError
from core.packs.loader import load_packs


def validate_pack(path: Path, *, config_dir: Path | None = None) -> list[PackError]:
    """Every problem of the pack at ``path`` (or of each pack in a directory of packs).

    The whole pack is checked in one pass, exactly as the loader does, so an empty list means
    ``load_packs`` will load it without errors.
    """
    return load_packs([path], config_dir=config_dir).errors

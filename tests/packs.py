"""Throwaway packs that tests write into a temporary folder."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

MANIFEST = "name: {name}\ndescription: d\nversion: 1.0.0\nauthor: me\n"


def make_pack(root: Path, name: str, files: Mapping[str, str]) -> Path:
    """Pack ``name`` under ``root``: a minimal pack.yaml and ``files`` (relative path → text)."""
    pack = root / name
    for relative, text in {"pack.yaml": MANIFEST.format(name=name), **files}.items():
        (pack / relative).parent.mkdir(parents=True, exist_ok=True)
        (pack / relative).write_text(text)
    return pack

"""Where the content that comes with Squall lives: the ``packs/`` and ``aliases/`` folders.

In a checkout (and an editable install) they are the repository's top-level folders; a wheel
carries copies in ``bot/bundled/`` (setup.py puts them there), which win when present.
"""

from __future__ import annotations

from pathlib import Path

_BOT = Path(__file__).resolve().parents[1]
_SHIPPED = _BOT / "bundled"
_CHECKOUT = _BOT.parent


def bundled_dir(name: str) -> Path:
    """``bundled_dir("packs")``: the folder of that bundled content."""
    shipped = _SHIPPED / name
    return shipped if shipped.is_dir() else _CHECKOUT / name

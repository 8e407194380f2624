"""No module of bot, core or adapters is over 600 lines: past that one no longer reads it at
once, and it gets split by concept (README "Architecture")."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 600


def module_lines() -> dict[str, int]:
    found: dict[str, int] = {}
    for package in ("bot", "core", "adapters"):
        for path in sorted((ROOT / package).rglob("*.py")):
            found[path.relative_to(ROOT).as_posix()] = len(path.read_text().splitlines())
    return found


def test_no_module_is_over_600_lines() -> None:
    sizes = module_lines()
    assert len(sizes) > 150  # the walk found the project
    too_big = {name: lines for name, lines in sizes.items() if lines > LIMIT}
    assert not too_big, f"split these by concept: {too_big}"

"""The process-heavy module list (tests/conftest.py) names files that exist."""

from __future__ import annotations

from tests.conftest import PROCESS_HEAVY, ROOT


def test_every_process_heavy_module_exists() -> None:
    missing = sorted(path for path in PROCESS_HEAVY if not (ROOT / path).is_file())
    assert not missing, f"renamed or removed; update PROCESS_HEAVY: {missing}"

"""The session's Chromium (tests/browser/chromium.py) and where page screenshots go."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.chromium import Chromium

SCREENSHOTS_ENV = "SQUALL_UI_SCREENSHOTS"


@pytest.fixture(scope="session")
def chromium() -> Iterator[Chromium]:
    browser = Chromium()
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """A screenshot of each console page lands here (a temporary folder unless
    $SQUALL_UI_SCREENSHOTS names one)."""
    given = os.environ.get(SCREENSHOTS_ENV)
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="squall-ui-shots-"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder

"""One Debian Chromium for the session, driven by Playwright's sync API on its own thread.

Playwright's sync API runs an event loop of its own and must not share a thread with the
asyncio tests (pytest-asyncio, auto mode), so every browser call goes through ``Chromium.run``,
which executes a function on the one thread that owns Playwright. Playwright's browser
download is never used: ``make chromium`` installs Debian's package.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from playwright.sync_api import Browser, Playwright, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
T = TypeVar("T")


class Chromium:
    def __init__(self) -> None:
        if not Path(CHROMIUM).exists():
            raise RuntimeError(
                f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)"
            )
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chromium")
        self._profile = Path(tempfile.mkdtemp(prefix="squall-chromium-"))
        self._playwright: Playwright | None = None
        self.browser: Browser = self.run(self._launch, timeout=120)

    def _launch(self) -> Browser:
        self._playwright = sync_playwright().start()
        # launch() gives Chromium a fresh, temporary user-data dir of its own (and refuses a
        # --user-data-dir argument); each test opens new incognito-like contexts in it.
        return self._playwright.chromium.launch(
            executable_path=CHROMIUM, args=ARGS, env={"HOME": str(self._profile)}
        )

    def run(self, work: Callable[..., T], *args: Any, timeout: float = 180) -> T:
        """``work(*args)`` on the Playwright thread; its exception is raised here."""
        return self._thread.submit(work, *args).result(timeout=timeout)

    def close(self) -> None:
        def stop() -> None:
            self.browser.close()
            if self._playwright is not None:
                self._playwright.stop()

        try:
            self.run(stop, timeout=60)
        finally:
            self._thread.shutdown(wait=True)
            shutil.rmtree(self._profile, ignore_errors=True)

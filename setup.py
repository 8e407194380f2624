"""Ships the checkout's bundled content (``packs/``, ``aliases/``) inside the wheel.

Everything else is in pyproject.toml. The folders live at the top of the repository, where
users look for them, so they are not package data of any package; a non-editable build copies
them into ``bot/bundled/`` (see ``bot/settings/bundled.py``). Editable installs read the
checkout directly.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CONTENT = ("packs", "aliases")


class BuildPyWithContent(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        root = Path(__file__).resolve().parent
        for name in CONTENT:
            if (root / name).is_dir():
                shutil.copytree(
                    root / name,
                    Path(self.build_lib) / "bot" / "bundled" / name,
                    dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
                )


setup(cmdclass={"build_py": BuildPyWithContent})

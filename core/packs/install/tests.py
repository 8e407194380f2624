"""``squall pack test``: a pack's own ``tests/`` run as StackStorm's ``st2-run-pack-tests`` does.

pytest runs in the pack's directory with, on its path, the pack's ``lib/``, ``sensors/``,
``actions/`` and ``actions/lib/``, Squall's ``st2common``/``st2reactor``/``st2tests`` stand-ins,
and (last) Squall itself for ``st2tests``' alias checks. A pack with ``requirements.txt`` or
``requirements-tests.txt`` gets a test virtualenv ``<virtualenvs>/.tests/<pack>`` with both
installed (rebuilt when either changes; Squall's site-packages follow its own, as for
actions); other packs run in Squall's interpreter. ``mock`` falls back to ``unittest.mock``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import core
from core.packs.install.venvs import build_venv
from core.runners.pack_python import (
    PackPythonSettings,
    lib_paths,
    own_site_packages,
    venv_python,
)
from core.runners.python import SHIM_DIR

FALLBACK_SHIM_DIR = str(Path(SHIM_DIR).with_name("python_shim_fallback"))
TEST_REQUIREMENTS = ("requirements.txt", "requirements-tests.txt")
MARKER = "squall-test-venv.json"
SQUALL_ROOT = str(Path(core.__file__).resolve().parents[1])


@dataclass(frozen=True)
class PackTestRun:
    argv: list[str]
    env: dict[str, str]
    cwd: Path


def prepare_pack_tests(
    pack_path: Path,
    ref: str,
    settings: PackPythonSettings,
    pip_args: Sequence[str] = (),
    pytest_args: Sequence[str] = (),
) -> PackTestRun:
    """The pytest command for the pack at ``pack_path`` (building its test venv if needed)."""
    tests = pack_path / "tests"
    if not tests.is_dir():
        raise FileNotFoundError(f"{pack_path}: the pack has no tests/ folder")
    python, fallback = sys.executable, []
    requirements = [pack_path / name for name in TEST_REQUIREMENTS]
    if any(file.is_file() for file in requirements) and settings.virtualenvs_dir is not None:
        venv = settings.virtualenvs_dir / ".tests" / ref
        _ensure_test_venv(venv, requirements, pip_args)
        python, fallback = str(venv_python(venv)), list(own_site_packages())
    shared = [str(pack_path / "lib")] if (pack_path / "lib").is_dir() else []
    paths = [
        *shared,
        SHIM_DIR,
        str(pack_path / "sensors"),
        str(pack_path / "actions"),
        *lib_paths(PackPythonSettings(), pack_path),
        *fallback,
        SQUALL_ROOT,
        FALLBACK_SHIM_DIR,
    ]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    argv = [
        python, "-m", "pytest", "-c", os.devnull, "--rootdir", str(pack_path),
        "-p", "no:cacheprovider", *pytest_args, "tests",
    ]  # fmt: skip
    return PackTestRun(argv, env, pack_path)


def _ensure_test_venv(venv: Path, requirements: Sequence[Path], pip_args: Sequence[str]) -> None:
    wanted = _hash(requirements)
    try:
        built = json.loads((venv / MARKER).read_text()).get("requirements")
    except (OSError, ValueError):
        built = None
    if built == wanted and venv_python(venv).exists():
        return
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    try:
        build_venv(venv, requirements, pip_args)
    except BaseException:
        shutil.rmtree(venv, ignore_errors=True)
        raise
    (venv / MARKER).write_text(json.dumps({"requirements": wanted}))


def _hash(files: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for file in files:
        digest.update(file.read_bytes() if file.is_file() else b"\0missing")
    return digest.hexdigest()

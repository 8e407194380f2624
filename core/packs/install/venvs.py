"""A pack's virtualenv, as st2 keeps one per pack: ``<virtualenvs>/<pack>``.

Created with the interpreter Squall runs on (``python -m venv``, without pip of its own) and
filled by Squall's pip (``pip --python <venv>``) from the pack's ``requirements.txt``, plus the
configured ``packs.pip_args`` (an index, ``--no-index --find-links DIR``...). A marker file
records the hash of the requirements it was built from, so ``doctor`` can say which packs
need ``squall pack setup-venv``. Which interpreter then runs a pack is decided in one place,
``core.runners.pack_python``.
"""

from __future__ import annotations

import enum
import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from core.runners.pack_python import VENV_MARKER as MARKER
from core.runners.pack_python import PackPythonSettings, venv_path, venv_python

REQUIREMENTS = "requirements.txt"
PIP_TIMEOUT = 1800.0


class VenvError(RuntimeError):
    """The venv could not be built; the message carries pip's own explanation."""


class VenvState(enum.StrEnum):
    READY = "ready"
    MISSING = "missing"  # the pack has requirements but no venv
    STALE = "stale"  # requirements.txt changed since the venv was built
    NONE_NEEDED = "none needed"  # no venv and no requirements: Squall's interpreter runs it
    SYSTEM = "system"  # a pack Squall ships: always its own interpreter


def requirements_hash(pack_path: Path) -> str | None:
    file = pack_path / REQUIREMENTS
    return hashlib.sha256(file.read_bytes()).hexdigest() if file.is_file() else None


def venv_state(settings: PackPythonSettings, pack: str, pack_path: Path) -> VenvState:
    venv = venv_path(settings, pack)
    if venv is None:
        return VenvState.SYSTEM
    wanted = requirements_hash(pack_path)
    if not venv_python(venv).exists():
        return VenvState.MISSING if wanted else VenvState.NONE_NEEDED
    try:
        built = json.loads((venv / MARKER).read_text()).get("requirements")
    except (OSError, ValueError):
        built = "unknown"
    return VenvState.READY if built == wanted else VenvState.STALE


def setup_venv(
    settings: PackPythonSettings, pack: str, pack_path: Path, pip_args: Sequence[str] = ()
) -> Path:
    """(Re)create the pack's venv and install its requirements; returns the venv folder.

    Built in its final place (pip writes that path into scripts) with the old one moved
    aside, and put back if the build fails: never half a venv.
    """
    venv = venv_path(settings, pack)
    if venv is None:
        raise VenvError(f"pack {pack!r} is shipped with Squall and runs in its interpreter")
    venv.parent.mkdir(parents=True, exist_ok=True)
    old = venv.with_name(f".{venv.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if venv.exists():
        venv.rename(old)
    try:
        _build(venv, pack, pack_path, pip_args)
    except BaseException:
        shutil.rmtree(venv, ignore_errors=True)
        if old.exists():
            old.rename(venv)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return venv


def _build(venv: Path, pack: str, pack_path: Path, pip_args: Sequence[str]) -> None:
    build_venv(venv, [pack_path / REQUIREMENTS], pip_args)
    # Written last: a venv without it is one whose build did not finish.
    marker = {"pack": pack, "requirements": requirements_hash(pack_path)}
    (venv / MARKER).write_text(json.dumps(marker))


def build_venv(venv: Path, requirements: Sequence[Path], pip_args: Sequence[str]) -> None:
    """A fresh venv at ``venv`` with every existing requirements file installed."""
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], "venv")
    files = [arg for file in requirements if file.is_file() for arg in ("-r", str(file))]
    if files:
        pip = [sys.executable, "-m", "pip", "--python", str(venv_python(venv))]
        _run([*pip, "install", "--no-input", *files, *pip_args], "pip")


def remove_venv(settings: PackPythonSettings, pack: str) -> bool:
    venv = venv_path(settings, pack)
    if venv is None or not venv.exists():
        return False
    shutil.rmtree(venv)
    return True


def _run(argv: list[str], what: str) -> None:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=PIP_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise VenvError(f"{what} took longer than {PIP_TIMEOUT:.0f} s") from exc
    if done.returncode != 0:
        output = (done.stderr.strip() or done.stdout.strip())[-4000:]
        raise VenvError(f"{what} failed (exit {done.returncode}):\n{output}")

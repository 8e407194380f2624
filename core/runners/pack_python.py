"""Which interpreter runs a pack's Python code, and what its ``sys.path`` starts with.

The one place that decides it, for python-script actions and pack sensors alike, as st2's
``sandboxing.get_sandbox_python_path_for_python_action`` does:

* a pack with a virtualenv (``<virtualenvs>/<pack>/bin/python``) runs in that interpreter,
  whose own site-packages come first; Squall's site-packages follow as a fallback, as st2's
  environment follows the pack's (so a pack that relied on what st2 ships still imports it);
* a pack without one runs in Squall's interpreter;
* ``actions/lib`` is always ahead of everything, and the pack root ``lib/`` too when
  ``packs.enable_common_libs`` is on.
"""

from __future__ import annotations

import site
import sys
from dataclasses import dataclass, field
from pathlib import Path

ACTIONS_LIB = ("actions", "lib")
# Written by ``core.packs.install.venvs`` when a venv build completes.
VENV_MARKER = "squall-venv.json"
COMMON_LIB = "lib"
# Packs Squall ships run in its own interpreter, like st2's SYSTEM_PACK_NAMES.
SYSTEM_PACKS = frozenset({"core", "packs", "chatops"})


@dataclass(frozen=True)
class PackPythonSettings:
    """Where pack virtualenvs live and whether the pack root ``lib/`` is importable."""

    virtualenvs_dir: Path | None = None
    enable_common_libs: bool = False


@dataclass(frozen=True)
class Interpreter:
    """One Python environment: a fork server is kept per distinct value of this."""

    python: str
    # Appended to the interpreter's own sys.path (Squall's site-packages for a pack venv).
    fallback_paths: tuple[str, ...] = ()
    venv: Path | None = None
    # Changes when ``pack setup-venv`` rebuilds the venv, so a new fork server is started
    # for the new packages (the old one idles out).
    generation: int = 0


@dataclass(frozen=True)
class PackPython:
    interpreter: Interpreter
    # Put ahead of sys.path in the action's process (and on its PYTHONPATH).
    lib_paths: tuple[str, ...] = field(default=())


def venv_path(settings: PackPythonSettings, pack: str) -> Path | None:
    if settings.virtualenvs_dir is None or pack in SYSTEM_PACKS:
        return None
    return settings.virtualenvs_dir / pack


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def own_site_packages() -> tuple[str, ...]:
    """Squall's site-packages, the fallback behind a pack venv's own."""
    return tuple(p for p in site.getsitepackages() if Path(p).is_dir())


def interpreter_for(settings: PackPythonSettings, pack: str) -> Interpreter:
    venv = venv_path(settings, pack)
    if venv is not None and venv_python(venv).exists():
        return Interpreter(str(venv_python(venv)), own_site_packages(), venv, _generation(venv))
    return Interpreter(sys.executable)


def _generation(venv: Path) -> int:
    try:
        return (venv / VENV_MARKER).stat().st_mtime_ns
    except OSError:
        return 0


def lib_paths(settings: PackPythonSettings, pack_path: Path) -> tuple[str, ...]:
    paths = [str(pack_path.joinpath(*ACTIONS_LIB))]
    if settings.enable_common_libs:
        paths.append(str(pack_path / COMMON_LIB))
    return tuple(paths)


def pack_python(settings: PackPythonSettings, pack: str, pack_path: Path) -> PackPython:
    """How pack ``pack`` (at ``pack_path``) runs Python code."""
    return PackPython(interpreter_for(settings, pack), lib_paths(settings, pack_path))

"""Entry script of the Python host:
``python -I bootstrap.py [--fallback P1:P2] serve <fd> | once [<fd>...]``.

Gives pack code a clean ``sys.path`` (stdlib, the venv's site-packages and the st2 shim, but not
Squall's own ``core``/``bot``/``adapters``), then loads this package under a private name and
starts the fork server (``serve``) or runs a single action from stdin (``once``, the fallback).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import site
import sys
from types import ModuleType
from typing import Any

HOST_DIR = os.path.dirname(os.path.abspath(__file__))
SHIM_DIR = os.path.join(os.path.dirname(HOST_DIR), "python_shim")
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HOST_DIR)))
PACKAGE = "_squall_python_host"  # private, so a pack's own ``core`` module cannot collide
SQUALL_PACKAGES = ("core", "bot", "adapters")
STANDARD_FINDERS = (
    importlib.machinery.BuiltinImporter,
    importlib.machinery.FrozenImporter,
    importlib.machinery.PathFinder,
)


def clean_sys_path(fallback: list[str]) -> None:
    root = os.path.realpath(PROJECT_ROOT)
    # An installed (non-editable) Squall lives inside site-packages, which pack code needs.
    if root not in {os.path.realpath(p) for p in site.getsitepackages()}:
        sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) != root]
    # ``pip install -e`` maps Squall's packages with a meta-path finder, not a path entry.
    sys.meta_path[:] = [f for f in sys.meta_path if not _finds_squall(f, root)]
    sys.path.insert(0, SHIM_DIR)
    # A pack venv's interpreter falls back on Squall's site-packages (as st2's on its own),
    # appended as plain entries: their ``.pth`` files, Squall's editable finder among them,
    # are not run.
    sys.path.extend(p for p in fallback if p not in sys.path)


def _finds_squall(finder: Any, root: str) -> bool:
    if finder in STANDARD_FINDERS:
        return False
    for name in SQUALL_PACKAGES:
        try:
            spec = finder.find_spec(name, None)
        except Exception:
            continue
        locations = list(getattr(spec, "submodule_search_locations", None) or [])
        locations.append(getattr(spec, "origin", None) or "")
        if any(os.path.realpath(p).startswith(root + os.sep) for p in locations if p):
            return True
    return False


def load_host() -> None:
    init = os.path.join(HOST_DIR, "__init__.py")
    spec = importlib.util.spec_from_file_location(
        PACKAGE, init, submodule_search_locations=[HOST_DIR]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the Python host from {HOST_DIR}")
    package = importlib.util.module_from_spec(spec)
    sys.modules[PACKAGE] = package
    spec.loader.exec_module(package)


def host_module(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


def main(argv: list[str]) -> int:
    fallback: list[str] = []
    if argv[:1] == ["--fallback"] and len(argv) > 1:
        fallback = [p for p in argv[1].split(os.pathsep) if p]
        argv = argv[2:]
    clean_sys_path(fallback)
    load_host()
    if len(argv) == 2 and argv[0] == "serve":
        code: int = host_module("server").main(int(argv[1]))
        return code
    if argv[:1] == ["once"] and all(arg.isdigit() for arg in argv[1:]):
        host_module("child").main_once([int(fd) for fd in argv[1:]])
    if len(argv) == 2 and argv[0] == "sensor" and argv[1].isdigit():
        host_module("sensor_child").main(int(argv[1]))
    usage = (
        "usage: bootstrap.py [--fallback PATHS] serve <socket fd> | once [<extra fd>...]"
        " | sensor <socket fd>"
    )
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Installing Squall as a user does: the wheel carries the bundled content; `make run` talks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import ROOT

SOURCES = ("bot", "core", "adapters", "packs", "aliases", "pyproject.toml", "setup.py", "README.md")


def copy_sources(target: Path) -> None:
    """The files a build reads, so the build leaves the checkout untouched."""
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "bundled")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=skip)
        elif source.exists():
            shutil.copy2(source, target / name)


@pytest.mark.slow
def test_the_wheel_runs_bundled_actions_from_any_folder(tmp_path: Path) -> None:
    source = tmp_path / "src"
    copy_sources(source)
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(wheels), str(source)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    (wheel,) = wheels.glob("squall-*.whl")

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    # Offline: the dependencies come from the test venv's site-packages, appended after the new
    # venv's own (a plain path line: that folder's .pth files, such as the editable install of
    # this checkout, are not run, so only the wheel provides Squall).
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    python = str(venv / "bin" / "python")
    found = subprocess.run([python, "-c", purelib], capture_output=True, text=True, check=True)
    site = Path(found.stdout.strip())
    (site / "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--no-deps", "--no-index", "-q", str(wheel)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ran = subprocess.run(
        [str(venv / "bin" / "squall"), "run", "core.echo", "message=hi", "--json"],
        cwd=elsewhere, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    execution = json.loads(ran.stdout)
    assert (execution["status"], execution["result"]["stdout"]) == ("succeeded", "hi")
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import bot; print(bot.__file__)"],
        cwd=elsewhere, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert str(venv) in where  # the wheel's copy ran, not the checkout
    shipped = Path(where.strip()).parent / "bundled"
    for content in ("packs", "aliases"):  # every bundled file, once the folder exists
        if (ROOT / content).is_dir():
            assert files(shipped / content) == files(ROOT / content)
    console = ROOT / "bot" / "http" / "ui"  # the web console's templates and static files
    for content in ("templates", "static"):
        assert files(shipped.parent / "http" / "ui" / content) == files(console / content)


def files(folder: Path) -> set[str]:
    return {
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_make_run_says_what_it_is_doing_while_pip_works(tmp_path: Path) -> None:
    dry = subprocess.run(
        ["make", "-n", "run", f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    lines = dry.stdout.splitlines()
    pip = next(i for i, line in enumerate(lines) if "pip install -q -e ." in line)
    assert any("echo" in line and "installing Squall" in line for line in lines[:pip])

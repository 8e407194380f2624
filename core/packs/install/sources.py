"""Where a pack comes from: a local folder, or a git repository at an optional ref.

st2's syntax: ``SOURCE[=REF]``. A folder without ``.git`` is copied as it is; a folder with
``.git``, a bare repository, a ``*.git`` path or a URL (``https://``, ``ssh://``, ``git@host:``)
is cloned with the system ``git`` (argv lists, no shell) and ``REF`` checked out. ``file://PATH``
is a local path, as in st2: copied when it is a plain folder, cloned when it is a repository.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

GIT_TIMEOUT = 600.0
_URL = re.compile(r"^(https?|ssh|git|file)://|^[\w.-]+@[\w.-]+:")
# A ref is a branch, tag or commit: no option-looking or shell-looking text reaches git.
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/+-]*$")


class SourceError(ValueError):
    """The source cannot be fetched; the message says what to fix."""


@dataclass(frozen=True)
class PackSource:
    location: str
    ref: str | None
    git: bool

    def __str__(self) -> str:
        return self.location + (f"={self.ref}" if self.ref else "")


def parse_source(text: str) -> PackSource:
    """``path``, ``path=ref``, ``URL`` or ``URL=ref``."""
    location, _, ref = text.partition("=") if "=" in text else (text, "", "")
    if not location:
        raise SourceError(f"{text!r}: no pack source given")
    if ref and not _REF.match(ref):
        raise SourceError(f"{text!r}: {ref!r} is not a git branch, tag or commit")
    if location.startswith("file://"):
        return _local(Path(unquote(location.removeprefix("file://"))), ref, location)
    if _URL.match(location):
        return PackSource(location, ref or None, git=True)
    return _local(Path(location).expanduser(), ref, location)


def _local(path: Path, ref: str, location: str) -> PackSource:
    if not path.is_absolute() and location.startswith("file://"):
        raise SourceError(f"{location}: a file:// source needs an absolute path (file:///...)")
    if not path.exists():
        if "/" not in location:  # a name, as st2 looks up in the StackStorm Exchange index
            raise SourceError(
                f"{location}: no such folder, and not a git URL (Squall has no pack index to "
                "look names up in: give a git repository URL or a folder)"
            )
        raise SourceError(f"{location}: no such folder (and not a git URL)")
    git = _is_repository(path)
    if ref and not git:
        raise SourceError(f"{location}: =ref needs a git repository, this is a plain folder")
    return PackSource(str(path.resolve()), ref or None, git=git)


def _is_repository(path: Path) -> bool:
    """A working tree, a ``*.git`` path, or a bare repository (``HEAD`` next to ``objects``)."""
    bare = (path / "HEAD").is_file() and (path / "objects").is_dir()
    return (path / ".git").exists() or path.suffix == ".git" or bare


def fetch(source: PackSource, into: Path) -> Path:
    """A checkout of ``source`` under ``into`` (an empty scratch folder); its root is returned."""
    target = into / "checkout"
    if not source.git:
        shutil.copytree(source.location, target, symlinks=True, ignore=_ignored)
        return target
    _git("clone", "--quiet", "--", source.location, str(target))
    if source.ref:
        _git("-C", str(target), "checkout", "--quiet", source.ref, "--")
    shutil.rmtree(target / ".git")  # the pack, not its history
    return target


def _ignored(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in (".git", "__pycache__", ".venv")}


def _git(*argv: str) -> None:
    if shutil.which("git") is None:
        raise SourceError("git is not installed; install it or give a local folder")
    try:
        done = subprocess.run(
            ["git", *argv],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise SourceError(f"git {argv[0]} took longer than {GIT_TIMEOUT:.0f} s") from exc
    if done.returncode != 0:
        raise SourceError(f"git {' '.join(argv)} failed: {done.stderr.strip() or done.stdout}")

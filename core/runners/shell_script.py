"""How to start a pack script file: chmod, shebang, ``bash -x`` for debug (st2-format §2.4)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

_SHELLS = frozenset({"sh", "bash"})
_ELF_MAGIC = b"\x7fELF"


def launcher(script: Path, debug: bool) -> list[str]:
    """What to put in front of the script path so it runs as st2 would run it.

    st2 runs ``chmod +x`` and then the script through ``sh -c``. Squall does the same chmod;
    if the pack directory is read-only, it runs the shebang's interpreter explicitly, which is
    what the kernel would have done. A file with no shebang runs under bash, like the shell's
    fallback for a text file it cannot exec.
    """
    head = first_line(script)
    interpreter = shebang(head)
    if interpreter is None and not head.startswith(_ELF_MAGIC):
        return ["bash", "-x"] if debug else ["bash"]
    if debug and interpreter is not None and is_shell(interpreter):
        return ["bash", "-x"]
    if make_executable(script) or interpreter is None:
        return []
    return interpreter


def shebang(head: bytes) -> list[str] | None:
    """The interpreter argv of a ``#!`` line, split as the kernel does: path + one argument."""
    if not head.startswith(b"#!"):
        return None
    words = head[2:].decode("utf-8", errors="replace").split(None, 1)
    return words or None


def make_executable(script: Path) -> bool:
    """Add execute bits wherever read bits are set; False when the file cannot be changed."""
    if os.access(script, os.X_OK):
        return True
    mode = script.stat().st_mode
    readable = mode & (stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    try:
        script.chmod(mode | (readable >> 2))
    except OSError:
        return False
    return os.access(script, os.X_OK)


def is_shell(interpreter: list[str]) -> bool:
    names = [Path(word).name for word in interpreter if not word.startswith("-")]
    # "#!/usr/bin/env bash" names the shell in the second word.
    if names and names[0] == "env":
        names = names[1:]
    return bool(names) and names[0] in _SHELLS


def first_line(script: Path) -> bytes:
    with script.open("rb") as handle:
        return handle.readline(256).rstrip(b"\r\n")

"""The one line a remote login shell runs for an action. Pure.

Every command is wrapped the same way::

    [sudo -n -E --] setsid -w bash -c '<report group id>; cd <cwd> && export K=V && <body>'

``setsid`` gives the action its own process group (and session) on the remote host, whose id
it prints first on stdout, so a timeout or cancel can kill the whole group from a second
channel: closing an SSH channel does not stop a command that runs without a terminal. ``-w``
keeps the exit status. Every value that is not the pack's own command is quoted for the shell.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.runners.shell_script import is_shell, shebang

# First stdout line of every wrapped command: the remote process group id.
GROUP_MARKER = b"squall-remote-pgid:"
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class CommandError(ValueError):
    """Parameters that cannot become a remote command (e.g. a bad environment name)."""


@dataclass(frozen=True)
class Sudo:
    """How to become root: ``-n`` never prompts; ``-S`` reads the password from stdin."""

    enabled: bool
    password: str | None = None

    def prefix(self) -> str:
        if not self.enabled:
            return ""
        return "sudo -S -p '' -E -- " if self.password else "sudo -n -E -- "

    def stdin(self) -> bytes:
        return (self.password + "\n").encode() if self.enabled and self.password else b""


def remote_command(body: str, *, cwd: str | None, env: Mapping[str, Any], sudo: Sudo) -> str:
    """``body`` (bash syntax) run in ``cwd`` with ``env``, in a group of its own."""
    steps = [f"printf '{GROUP_MARKER.decode()}%s\\n' \"$$\""]
    prelude = [f"cd {shlex.quote(cwd)}"] if cwd else []
    exports = env_exports(env)
    if exports:
        prelude.append("export " + " ".join(exports))
    steps.append(" && ".join([*prelude, body]))
    return f"{sudo.prefix()}setsid -w bash -c {shlex.quote('; '.join(steps))}"


def kill_group_command(pgid: int, sudo: Sudo) -> str:
    """SIGKILL to the whole remote group; as root when the action ran as root."""
    return f"{sudo.prefix()}kill -KILL -- -{int(pgid)}"


def env_exports(env: Mapping[str, Any]) -> list[str]:
    exports = []
    for name, value in env.items():
        if not _ENV_NAME.fullmatch(str(name)):
            raise CommandError(f"env: {name!r} is not a valid environment variable name")
        if value is not None:
            exports.append(f"{name}={shlex.quote(str(value))}")
    return exports


def script_body(launcher: Sequence[str], argv: Sequence[str]) -> str:
    """The script's argv (as built for ``local-shell-script``), quoted token by token."""
    return shlex.join([*launcher, *argv])


def remote_launcher(first_line: bytes, debug: bool) -> list[str]:
    """What runs the uploaded script: its shebang via the exec bit, else bash (as locally)."""
    interpreter = shebang(first_line)
    if interpreter is None:
        return ["bash", "-x"] if debug else ["bash"]
    if debug and is_shell(interpreter):
        return ["bash", "-x"]
    return []


def parse_group_line(line: bytes) -> int | None:
    """The group id from the marker line, or None when the line is ordinary output."""
    if not line.startswith(GROUP_MARKER):
        return None
    text = line[len(GROUP_MARKER) :].strip()
    return int(text) if text.isdigit() else None

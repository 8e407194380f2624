"""Who owns an execution, and whether that owner (or its subprocess) is still alive.

An owner id is ``host:pid:boot`` where ``boot`` is the process start time in clock ticks from
/proc, so a recycled pid is not mistaken for the Squall process that died.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from dataclasses import dataclass
from pathlib import Path

from core.runners.process import execution_marker, kill_marked


def _start_ticks(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime) counted after the ")" that ends the command name.
    return stat.rsplit(")", 1)[1].split()[19]


@dataclass(frozen=True)
class OwnerId:
    host: str
    pid: int
    boot: str

    @classmethod
    def current(cls) -> OwnerId:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, _start_ticks(pid) or "0")

    @classmethod
    def parse(cls, text: str) -> OwnerId | None:
        host, _, rest = text.rpartition(":")
        host, _, pid = host.rpartition(":")
        if not host or not pid.isdigit():
            return None
        return cls(host, int(pid), rest)

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.boot}"

    def is_local(self) -> bool:
        return self.host == socket.gethostname()

    def is_alive(self) -> bool:
        """True when this owner's process still runs (only answerable on the same host)."""
        return _start_ticks(self.pid) == self.boot


def kill_leftover_group(pgid: int, execution_id: str) -> bool:
    """SIGKILL a process group a dead Squall left behind, if it is really that execution's.

    The leader's environment must carry ``ST2_ACTION_EXECUTION_ID=<id>``; without that proof a
    recycled pgid could belong to anything, so we leave it alone. Processes of the execution
    that left the group (``setsid``) are found by that same variable and killed too.
    """
    marker = execution_marker(execution_id)
    escaped = kill_marked(marker) > 0
    try:
        environ = Path(f"/proc/{pgid}/environ").read_bytes()
    except OSError:
        return escaped
    if marker not in environ.split(b"\0"):
        return escaped
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
        return True
    return escaped


def kill_unrecorded(execution_ids: list[str]) -> int:
    """SIGKILL the processes of executions whose process group was never recorded (a crash
    before the pgid write, core.executions.pgid), found by ``ST2_ACTION_EXECUTION_ID`` in their
    environment: one pass over /proc for all of them. How many were killed."""
    if not execution_ids:
        return 0
    return kill_marked(*(execution_marker(execution_id) for execution_id in execution_ids))

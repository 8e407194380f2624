"""Fault injection for the crash tests: ``SQUALL_FAULT_KILL_AT=N`` makes the process kill
itself (SIGKILL, no cleanup) at the N-th fault point it passes; ``SQUALL_FAULT_LOG=PATH``
appends the name of every point passed. Both unset (always, outside those tests): a point
costs one attribute test.

Fault points mark the durable transitions the engine must survive a crash at: every
execution status change, a claim, each workflow state save and each child request.
"""

from __future__ import annotations

import os
import signal

_KILL_AT = int(os.environ.get("SQUALL_FAULT_KILL_AT") or 0)
_LOG = os.environ.get("SQUALL_FAULT_LOG") or None
_ENABLED = bool(_KILL_AT or _LOG)
_passed = 0


def fault_point(name: str) -> None:
    if not _ENABLED:
        return
    _count(name)


def _count(name: str) -> None:
    global _passed
    _passed += 1
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as log:
            log.write(f"{_passed} {name}\n")
    if _passed == _KILL_AT:
        os.kill(os.getpid(), signal.SIGKILL)

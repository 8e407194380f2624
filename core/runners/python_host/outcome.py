"""Turning a finished action process into the execution result (st2-format §2.5).

Mirrors ``python_runner.py::_get_output_values`` / ``_get_final_status``: the result block
decides ``result`` and the action's own status; the exit code and how the run ended decide
the execution status.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

from core.models import ExecutionStatus
from core.runners.base import RunnerResult
from core.runners.python_host.protocol import INVALID_STATUS_EXIT_CODE, INVALID_STATUS_MESSAGE

# st2's quirk: without a result block (the action raised, was killed...) ``result`` is the
# *string* "None".
NO_RESULT = "None"


class Ending(Enum):
    EXITED = "exited"
    TIMEOUT = "timeout"
    CANCELED = "canceled"
    HOST_DIED = "host_died"


@dataclass(frozen=True)
class Finished:
    ending: Ending
    returncode: int | None
    stdout: str
    stderr: str
    payload: bytes | None  # the text between the result delimiters, if complete
    result_truncated: bool = False
    timeout: float | None = None


def parse_payload(payload: bytes | None) -> tuple[Any, bool | None]:
    """``(result, action status)`` from the result block, or ``("None", None)``."""
    if not payload or not payload.strip():
        return NO_RESULT, None
    try:
        block = json.loads(payload)
    except ValueError:
        return NO_RESULT, None
    if not isinstance(block, dict):
        return NO_RESULT, None
    status = block.get("status")
    return block.get("result"), status if isinstance(status, bool) else None


def build_result(run: Finished, result_limit: int) -> RunnerResult:
    result, action_status = parse_payload(run.payload)
    body: dict[str, Any] = {
        "result": NO_RESULT if run.result_truncated else result,
        "stdout": run.stdout,
        "stderr": run.stderr,
        "exit_code": run.returncode,
    }
    error = _error(run, result_limit)
    if error:
        body["error"] = error
    return RunnerResult(_status(run, action_status, error), body)


def _status(run: Finished, action_status: bool | None, error: str | None) -> ExecutionStatus:
    if run.ending is Ending.TIMEOUT:
        return ExecutionStatus.TIMEOUT
    if run.ending is Ending.CANCELED:
        return ExecutionStatus.CANCELED
    if error is None and run.returncode == 0 and action_status is not False:
        return ExecutionStatus.SUCCEEDED
    return ExecutionStatus.FAILED


def _error(run: Finished, result_limit: int) -> str | None:
    if run.ending is Ending.TIMEOUT:
        seconds = run.timeout or 0
        shown = int(seconds) if float(seconds).is_integer() else seconds
        return f"Action failed to complete in {shown} seconds"
    if run.ending is Ending.HOST_DIED:
        return "The Python host process died while the action ran; its exit status is unknown."
    if run.returncode == INVALID_STATUS_EXIT_CODE:
        lines = [x for x in run.stderr.splitlines() if x.startswith(INVALID_STATUS_MESSAGE)]
        return lines[-1] if lines else INVALID_STATUS_MESSAGE
    if run.result_truncated:
        return f"The action's result is larger than the {result_limit}-byte limit."
    return None

"""What Squall and the Python host say to each other (stdlib only: both sides import it).

Two channels:

* The **control socket** (``AF_UNIX``/``SOCK_SEQPACKET``, so every message keeps its boundary
  and the file descriptors it carries): Squall sends ``run`` with the action's stdin, stdout and
  stderr pipe ends; the server answers ``started`` (the pid, which is also the process group id)
  or ``error``, and later ``exit`` with the return code once it has reaped the child.
* The optional **datastore socket** (the child's fd 3) carries ``action_service`` calls as
  JSON lines, answered by Squall (``datastore_client.py``).
* The action's **stdin** carries the request (a JSON object, see ``Request``) and the action's
  **stdout** carries the result between two ``DELIMITER`` s, exactly like StackStorm's wrapper.
"""

from __future__ import annotations

import json
from typing import Any, TypedDict

# st2common/constants/action.py::ACTION_OUTPUT_RESULT_DELIMITER
DELIMITER = "%%%%%~=~=~=************=~=~=~%%%%"
# st2common/constants/runners.py::PYTHON_RUNNER_INVALID_ACTION_STATUS_EXIT_CODE
INVALID_STATUS_EXIT_CODE = 220
INVALID_STATUS_MESSAGE = "Status returned from the action run() method must either be True or False"

# Control messages are a few dozen bytes; this bounds one datagram read.
MAX_MESSAGE = 4096
# stdin, stdout, stderr of the action, in that order, then optionally the datastore socket.
FDS_PER_RUN = 3
MAX_FDS_PER_RUN = FDS_PER_RUN + 1
# Where the action finds its end of the datastore socket (see ``datastore_client.py``).
DATASTORE_FD = 3


class Request(TypedDict):
    """One execution, as the child reads it from its stdin."""

    entry_point: str
    pack: str
    pack_path: str
    # Put ahead of sys.path: actions/lib, and the pack's lib/ with enable_common_libs.
    lib_paths: list[str]
    parameters: dict[str, Any]
    config: dict[str, Any]
    env: dict[str, str]
    cwd: str
    log_level: str
    # True when fd 3 is a datastore channel to Squall (else ``action_service`` refuses).
    datastore: bool


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def decode(data: bytes) -> dict[str, Any]:
    message = json.loads(data)
    if not isinstance(message, dict):
        raise ValueError(f"control message is not an object: {data[:80]!r}")
    return message


def encode_result(result: Any, status: bool | None) -> bytes:
    """The result block the child prints; non-JSON values become ``str()`` as in st2."""
    try:
        body = json.dumps({"result": result, "status": status})
    except (TypeError, ValueError):
        body = json.dumps({"result": str(result), "status": status})
    # ``%`` only occurs inside JSON strings, so escaping it keeps the delimiter out of the body
    # whatever the action returns.
    body = body.replace("%", "\\u0025")
    return (DELIMITER + body + "\n" + DELIMITER).encode()

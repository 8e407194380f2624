"""Run cards: the chat message that acknowledges an execution and later shows its result.

Pure functions over the execution API dict (``core.executions.api.execution_to_api``), which has
secret parameters masked and their values scrubbed from the result — cards never see a secret.
When an alias gives a ``result`` template its text replaces the per-runner default body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from core.models.chat import Attachment, Button, Capabilities, Field, OutgoingMessage

TRUNCATED = "… [truncated: {hidden} more characters{where}]"
# Room kept for the title, fields and footer around the code block.
CARD_OVERHEAD = 400
SHELL_RUNNERS = frozenset({"local-shell-cmd", "local-shell-script"})


def footer(api: Mapping[str, Any]) -> str:
    elapsed = api.get("elapsed_seconds")
    timing = f" · {elapsed:.2f}s" if isinstance(elapsed, int | float) else ""
    return f"execution {api['id']}{timing}"


def ack_card(api: Mapping[str, Any], text: str | None = None) -> OutgoingMessage:
    """Posted as soon as the execution is requested; ``text`` is the alias ack, if any."""
    ref = api["action"]["ref"]
    return OutgoingMessage(
        text=text or f"execution {api['id']} requested ({ref})",
        title=ref,
        status=str(api["status"]),
        buttons=(Button("Cancel", f"cancel {api['id']}", "danger"),),
    )


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def default_body(api: Mapping[str, Any]) -> tuple[tuple[Field, ...], str]:
    """Per-runner fields and output when the alias has no ``result`` template."""
    runner = api["runner"]["name"]
    result = api.get("result") or {}
    if not isinstance(result, Mapping):
        return (), as_text(result)
    if runner in SHELL_RUNNERS:
        output = str(result.get("stdout") or "")
        if result.get("stderr"):
            output = f"{output}\nstderr:\n{result['stderr']}" if output else str(result["stderr"])
        return (Field("return_code", str(result.get("return_code"))),), output
    if runner == "python-script":
        output = as_text(result.get("result"))
        if result.get("stderr") and api["status"] != "succeeded":
            output = f"{output}\nstderr:\n{result['stderr']}"
        return (Field("exit_code", str(result.get("exit_code"))),), output
    if runner == "http-request":
        return (Field("status_code", str(result.get("status_code"))),), as_text(result.get("body"))
    return (), as_text(dict(result))


def truncate(text: str, limit: int, *, attached: bool) -> str:
    """``text`` cut to ``limit`` characters with a marker saying how much is hidden (and where)."""
    if len(text) <= limit:
        return text
    where = ", full output attached" if attached else ""
    marker = TRUNCATED.format(hidden=len(text) - limit, where=where)
    return f"{text[:limit]}\n{marker}"


def result_card(
    api: Mapping[str, Any], capabilities: Capabilities, rendered: str | None = None
) -> OutgoingMessage:
    """The card's final content: status, the alias-rendered text or the runner's default body."""
    fields, output = ((), rendered) if rendered is not None else default_body(api)
    limit = max(100, capabilities.max_text - CARD_OVERHEAD)
    too_long = len(output) > limit
    attachment = None
    if too_long and capabilities.files:
        attachment = Attachment(f"{api['id']}.txt", output)
    return OutgoingMessage(
        title=api["action"]["ref"],
        status=str(api["status"]),
        fields=fields,
        code=truncate(output, limit, attached=attachment is not None) if output else None,
        footer=footer(api),
        attachment=attachment,
    )

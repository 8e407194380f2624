"""Run cards: the chat message that acknowledges an execution and later shows its result.

Pure functions over the execution API dict (``core.executions.api.execution_to_api``), which has
secret parameters masked and their values scrubbed from the result — cards never see a secret.
When an alias gives a ``result`` template its text replaces the per-runner default body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import yaml

from core.aliases.render import RenderedResult
from core.models.approval import APPROVE_OR_DENY, Approval, ApprovalStatus
from core.models.chat import Attachment, Button, Capabilities, Field, OutgoingMessage
from core.models.trace import TraceContext

TRUNCATED = "… [truncated: {hidden} more characters{where}]"
# Room kept for the title, fields and footer around the code block.
CARD_OVERHEAD = 400
SHELL_RUNNERS = frozenset({"local-shell-cmd", "local-shell-script"})
WORKFLOW_RUNNER = "orquesta"


def footer(api: Mapping[str, Any]) -> str:
    """``execution ID · 1.50s · trace ID``: what to paste into ``squall execution|trace get``."""
    elapsed = api.get("elapsed_seconds")
    timing = f" · {elapsed:.2f}s" if isinstance(elapsed, int | float) else ""
    trace = TraceContext.of_execution(api.get("context") or {})
    traced = f" · trace {trace.id}" if trace is not None else ""
    return f"execution {api['id']}{timing}{traced}"


def ack_card(api: Mapping[str, Any], text: str | None = None) -> OutgoingMessage:
    """Posted as soon as the execution is requested; ``text`` is the alias ack, if any."""
    ref = api["action"]["ref"]
    return OutgoingMessage(
        text=text or f"execution {api['id']} {api['status']} ({ref})",
        title=ref,
        status=str(api["status"]),
        buttons=(Button("Cancel", f"cancel {api['id']}", "danger"),),
    )


def status_card(api: Mapping[str, Any]) -> OutgoingMessage:
    """A card's last state when its alias posts no result: title, status, footer."""
    return OutgoingMessage(
        title=api["action"]["ref"], status=str(api["status"]), footer=footer(api)
    )


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def field_value(value: Any) -> str:
    """A value on one line of a card: a list of plain values as ``a, b, c``, anything else
    structured as compact JSON (``as_text`` spread a list over one line per item)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str | int | float | bool) for v in value):
        return ", ".join(v if isinstance(v, str) else json.dumps(v) for v in value)
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def readable(value: Any) -> str:
    """Structured output as YAML (keys in their order, no braces or quotes to read past)."""
    if isinstance(value, str):
        return value
    text = yaml.safe_dump(
        json.loads(json.dumps(value, default=str)),  # plain types only
        sort_keys=False, allow_unicode=True, default_flow_style=False, width=100,
    )  # fmt: skip
    return text.rstrip("\n")


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
    if runner == WORKFLOW_RUNNER:
        return (), _workflow_body(result)
    return (), as_text(dict(result))


def _workflow_body(result: Mapping[str, Any]) -> str:
    """A workflow's ``output`` and ``errors`` as YAML; nothing when it output nothing."""
    parts = []
    if result.get("output"):
        parts.append(readable(result["output"]))
    if result.get("errors"):
        parts.append(readable({"errors": result["errors"]}))
    return "\n".join(parts)


def truncate(text: str, limit: int, *, attached: bool) -> str:
    """``text`` cut to ``limit`` characters with a marker saying how much is hidden (and where)."""
    if len(text) <= limit:
        return text
    where = ", full output attached" if attached else ""
    marker = TRUNCATED.format(hidden=len(text) - limit, where=where)
    return f"{text[:limit]}\n{marker}"


def _fit(
    text: str, api: Mapping[str, Any], capabilities: Capabilities
) -> tuple[str, Attachment | None]:
    """``text`` cut to what the platform shows, and the whole of it as a file where possible."""
    limit = max(100, capabilities.max_text - CARD_OVERHEAD)
    attachment = None
    if len(text) > limit and capabilities.files:
        attachment = Attachment(f"{api['id']}.txt", text)
    return truncate(text, limit, attached=attachment is not None), attachment


def rerun_button(api: Mapping[str, Any]) -> tuple[Button, ...]:
    return (Button("Re-run", f"rerun {api['id']}"),)


def result_card(
    api: Mapping[str, Any], capabilities: Capabilities, rendered: RenderedResult | None = None
) -> OutgoingMessage:
    """The card's final content: status, the alias-rendered text or the runner's default body."""
    if rendered is not None:
        text, attachment = _fit(rendered.text, api, capabilities)
        return OutgoingMessage(
            text=text,
            pretext=rendered.pretext,
            title=api["action"]["ref"],
            status=str(api["status"]),
            footer=footer(api),
            attachment=attachment,
            buttons=rerun_button(api),
            extra=dict(rendered.extra),
        )
    fields, output = default_body(api)
    code, attachment = _fit(output, api, capabilities) if output else (None, None)
    return OutgoingMessage(
        title=api["action"]["ref"],
        status=str(api["status"]),
        fields=fields,
        code=code,
        footer=footer(api),
        attachment=attachment,
        buttons=rerun_button(api),
    )


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment is not None else "never"


def _approval_fields(approval: Approval) -> tuple[Field, ...]:
    who = [*approval.approvers, *(f"role:{r}" for r in approval.approver_roles)]
    fields = [Field("requested by", approval.requester), Field("approvers", ", ".join(who))]
    if not approval.requester_may_approve:
        fields.append(Field("four eyes", "the requester may not approve"))
    if approval.expires_at is not None:
        fields.append(Field("expires", _when(approval.expires_at)))
    parameters = approval.subject.get("parameters")
    if isinstance(parameters, Mapping):
        shown = {k: v for k, v in parameters.items() if v is not None}
        fields += [Field(str(k), field_value(v)) for k, v in sorted(shown.items())]
    return tuple(fields)


def yes_no_question(schema: Mapping[str, Any]) -> str | None:
    """The one boolean a schema asks for, when everything else is optional (so Approve and
    Deny answer it: st2's default ``continue``, or ``approved`` plus defaults)."""
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    booleans = [n for n, p in properties.items() if isinstance(p, Mapping)
                and p.get("type") == "boolean"]  # fmt: skip
    if len(booleans) != 1 or not required <= {booleans[0]}:
        return None
    return str(booleans[0])


def approval_buttons(approval: Approval) -> tuple[Button, ...]:
    """Approve/Deny for the default schema; one button per choice for a single enum field.

    Other schemas get no buttons here: adapters with forms add one (Slack's modal), and the
    card text shows the typed ``respond <id> {json}``.
    """
    if approval.schema == APPROVE_OR_DENY or yes_no_question(approval.schema):
        return (
            Button("Approve", f"approve {approval.id}", "primary"),
            Button("Deny", f"deny {approval.id}", "danger"),
        )
    properties = approval.schema.get("properties") or {}
    if len(properties) == 1:
        [(name, spec)] = properties.items()
        choices = spec.get("enum") if isinstance(spec, Mapping) else None
        if isinstance(choices, list) and 0 < len(choices) <= 10:
            return tuple(
                Button(as_text(c), f"respond {approval.id} {json.dumps({name: c})}")
                for c in choices
            )
    return ()


def approval_card(approval: Approval) -> OutgoingMessage:
    """An approval waiting for an answer; each button is the typed command it stands for."""
    if approval.status is not ApprovalStatus.PENDING:
        return approval_outcome_card(approval)
    buttons = approval_buttons(approval)
    text = approval.description
    if not buttons:
        fields = ", ".join(str(k) for k in approval.schema.get("properties") or {})
        hint = f"answer with: respond {approval.id} {{JSON}}" + (
            f" (fields: {fields})" if fields else ""
        )
        text = f"{text}\n{hint}" if text else hint
    return OutgoingMessage(
        title=approval.title,
        text=text,
        status="awaiting approval",
        fields=_approval_fields(approval),
        buttons=buttons,
        footer=f"approval {approval.id}",
        approval=approval,
    )


def fit_approval_card(
    card: OutgoingMessage, approval: Approval, capabilities: Capabilities
) -> OutgoingMessage:
    """An approver must see everything they approve. When the fields do not fit the platform
    (too many, or a value too long), the card shows what fits, says that the rest is not on
    it, and carries the whole request as a file (or, without files, as its code block)."""
    fields = card.fields
    per_field = capabilities.max_field_text
    total = sum(len(f.title) + len(f.value) for f in fields)
    if capabilities.max_card_text and total > capabilities.max_card_text:
        per_field = min(per_field, capabilities.max_card_text // max(1, len(fields)))
    cut = [f for f in fields if len(f.value) > per_field]
    if len(fields) <= capabilities.max_fields and not cut:
        return card
    room = max(1, capabilities.max_fields - 1)
    shown = tuple(
        Field(f.title, truncate(f.value, max(20, per_field - 80), attached=True), f.short)
        for f in fields[:room]
    )
    hidden = len(fields) - len(shown)
    missing = f"{hidden} more field(s) and " if hidden else ""
    notice = Field(
        "not all shown", f"{missing}{len(cut)} cut value(s): the full request is attached"
    )
    full = json.dumps(
        {"title": approval.title, "requester": approval.requester, **approval.subject},
        indent=2, sort_keys=True, default=str, ensure_ascii=False,
    )  # fmt: skip
    if capabilities.files:
        attachment = Attachment(f"approval-{approval.id}.json", full)
        return replace(card, fields=(*shown, notice), attachment=attachment)
    return replace(card, fields=(*shown, notice), code=full)


def approval_outcome(approval: Approval) -> str:
    if approval.status is ApprovalStatus.EXPIRED:
        return f"expired at {_when(approval.expires_at)}"
    by = f" by {approval.decided_by}" if approval.decided_by else ""
    return f"{approval.status}{by} at {_when(approval.decided_at)}"


def approval_outcome_card(approval: Approval) -> OutgoingMessage:
    """The card after the decision: who decided and when; no buttons any more."""
    return OutgoingMessage(
        title=approval.title,
        text=approval_outcome(approval),
        status=str(approval.status),
        fields=_approval_fields(approval),
        footer=f"approval {approval.id}",
        approval=approval,
    )

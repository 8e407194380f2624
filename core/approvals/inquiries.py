"""Inquiries: a workflow step (``core.ask``) that waits for people to answer.

An inquiry is an approval (core.approvals.service) whose subject names the asking execution; the
inquiry's id is that execution's id, as in st2. Asking stores the approval, emits
``core.st2.generic.inquiry`` and leaves the execution ``pending`` (its workflow pauses once
nothing else runs). Every answer — a button, typed ``approve``/``deny``/``respond``, ``squall
inquiry respond`` — goes through ``ApprovalService.respond``: the responder is authorized
(the listed users and roles; anyone when none are listed), the response is validated against
the schema with its defaults, and the compare-and-set on the approval makes exactly one answer
count. The decision then ends the execution — ``succeeded`` with ``result.response``, or
``timeout`` when the TTL passed — and the paused workflow resumes so its transitions decide.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any, Final, Protocol

from core.approvals.service import ANYONE, ApprovalRequest, ApprovalService
from core.authz.authorizer import Authorizer, SquallUser
from core.executions.service import ExecutionService
from core.models import Execution, ExecutionStatus
from core.models.approval import Approval, ApprovalStatus
from core.models.trace import TraceContext
from core.runners.types import DEFAULT_INQUIRY_SCHEMA
from core.store import ExecutionQuery

__all__ = ["INQUIRY_KIND", "InquiryService", "normalize_schema"]

log = logging.getLogger(__name__)

INQUIRY_KIND: Final = "inquiry"
TRIGGER: Final = "core.st2.generic.inquiry"
S = ExecutionStatus
_ENDINGS: Final[Mapping[ApprovalStatus, ExecutionStatus]] = {
    ApprovalStatus.APPROVED: S.SUCCEEDED,
    ApprovalStatus.DENIED: S.SUCCEEDED,  # an answer all the same: the workflow decides
    ApprovalStatus.EXPIRED: S.TIMEOUT,
    ApprovalStatus.CANCELED: S.CANCELED,
}
# Emits a trigger instance (the dispatcher); returns its id.
# As core.runners.inject_trigger.TriggerSink: (ref, payload, source, trace tag, trace).
TriggerEmitter = Callable[
    [str, dict[str, Any], str, str | None, TraceContext | None], Awaitable[str]
]
# Told when an inquiry was asked, so chat can post its card.
AskedListener = Callable[[Approval], Awaitable[object]]


class WorkflowResumer(Protocol):
    async def resume_after_answer(self, answered: Execution) -> None: ...


def normalize_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """st2's draft-4 style (``required: true`` on a property) as a standard JSON schema, at
    every level."""
    result = {k: v for k, v in schema.items() if not (k == "required" and isinstance(v, bool))}
    properties = schema.get("properties")
    if isinstance(properties, Mapping):
        required = list(schema.get("required") or []) if isinstance(
            schema.get("required"), list) else []  # fmt: skip
        result["properties"] = {}
        for name, prop in properties.items():
            if isinstance(prop, Mapping):
                if prop.get("required") is True and name not in required:
                    required.append(name)
                result["properties"][name] = normalize_schema(prop)
            else:
                result["properties"][name] = prop
        if required:
            result["required"] = required
    return result


class InquiryService:
    def __init__(
        self,
        executions: ExecutionService,
        approvals: ApprovalService,
        authz: Authorizer,
        *,
        self_response: bool = True,
    ) -> None:
        self.executions = executions
        self.approvals = approvals
        self.authz = authz
        self.self_response = self_response
        self.workflows: WorkflowResumer | None = None
        self._emit: TriggerEmitter | None = None
        self._asked: list[AskedListener] = []
        approvals.subscribe(self.on_decided)
        executions.add_completion_listener(self.on_completed, wants=_canceled_inquiry)

    def connect(self, *, emit: TriggerEmitter, workflows: WorkflowResumer) -> None:
        self._emit = emit
        self.workflows = workflows

    def on_asked(self, listener: AskedListener) -> None:
        self._asked.append(listener)

    # -- asking (the inquirer runner) -----------------------------------------------------
    async def ask(self, execution_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """Store the inquiry of ``execution_id``; the runner's ``pending`` result."""
        execution = await self.executions.get(execution_id)
        if execution is None:
            raise LookupError(f"execution {execution_id} not found")
        existing = await self.approvals.get(execution_id)
        approval = existing or await self._create(execution, params)
        for listener in [] if existing else list(self._asked):
            try:
                await listener(approval)
            except Exception:
                log.exception("inquiry listener failed for %s", approval.id)
        if self._emit is not None and existing is None:
            route = str(params.get("route") or "")
            payload = {"id": execution_id, "route": route}
            trace = TraceContext.of_execution(execution.context)
            await self._emit(TRIGGER, payload, "inquirer", None, trace)
        return {
            "schema": approval.schema, "roles": list(params.get("roles") or []),
            "users": list(params.get("users") or []), "route": params.get("route") or "",
            "ttl": params.get("ttl"),
        }  # fmt: skip

    async def _create(self, execution: Execution, params: Mapping[str, Any]) -> Approval:
        schema = normalize_schema(params.get("schema") or DEFAULT_INQUIRY_SCHEMA)
        users = tuple(str(u) for u in params.get("users") or ())
        roles = tuple(str(r) for r in params.get("roles") or ())
        ttl_minutes = int(params.get("ttl") or 0)
        orquesta = execution.context.get("orquesta") or {}
        workflow = execution.parent
        task = orquesta.get("task_name")
        title = f"{task}: waiting for an answer" if task else f"inquiry {execution.id}"
        requester = str(execution.context.get("user") or "stanley")
        request = ApprovalRequest(
            title=title,
            description=_describe(schema),
            subject={
                "kind": INQUIRY_KIND,
                "execution_id": execution.id,
                "workflow": workflow,
                "task": task,
                "route": params.get("route") or "",
            },
            approvers=users or (() if roles else (ANYONE,)),
            approver_roles=roles,
            requester_may_approve=self.self_response,
            ttl=timedelta(minutes=ttl_minutes) if ttl_minutes > 0 else None,
            schema=schema,
        )
        place = dict(execution.context.get("chat") or {})
        user = self.authz.user_named(requester) or SquallUser(requester, ())
        return await self.approvals.create(
            request, requester=user, place=place, approval_id=execution.id
        )

    # -- answers --------------------------------------------------------------------------
    async def on_decided(self, approval: Approval) -> None:
        """Approval listener: end the asking execution as the decision says (idempotent).

        Only a serving process applies it (the one conducting the workflow); a decision made
        by the CLI is applied by the serving process's sweep (``reconcile``)."""
        if (
            approval.subject.get("kind") != INQUIRY_KIND
            or approval.status is ApprovalStatus.PENDING
            or not self.executions.is_serving
        ):
            return
        execution = await self.executions.get(approval.id)
        if execution is None or execution.status is not S.PENDING:
            return
        status = _ENDINGS[approval.status]
        result = {**(execution.result or {}), "response": approval.response or {}}
        if approval.decided_by:
            result["responded_by"] = approval.decided_by
        if status is S.TIMEOUT:
            result = {**(execution.result or {}), "error": "the inquiry timed out"}
        done = await self.executions.set_status(execution, status, result=result)
        if done is not None and done.parent and self.workflows is not None:
            await self.workflows.resume_after_answer(done)

    async def on_completed(self, execution: Execution) -> None:
        """A pending inquiry canceled with its workflow withdraws its question."""
        if execution.runner_type == "inquirer" and execution.status is S.CANCELED:
            await self.approvals.withdraw(execution.id, reason=f"execution {execution.id} canceled")

    async def reconcile(self) -> int:
        """Decisions a crash left unapplied (the approval decided, the execution still
        pending): apply them now."""
        moved = 0
        pending = await self.executions.store.executions.list(
            ExecutionQuery(statuses=(S.PENDING,), limit=500)
        )
        for execution in pending:
            if execution.runner_type != "inquirer":
                continue
            approval = await self.approvals.get(execution.id)
            if approval is not None and approval.status is not ApprovalStatus.PENDING:
                # Every listener, not only ours: the chat card is edited too.
                await self.approvals.announce(approval)
                moved += 1
        return moved

    async def list_pending(self, limit: int = 50) -> list[Approval]:
        found = await self.approvals.list_pending(limit=500)
        return [a for a in found if a.subject.get("kind") == INQUIRY_KIND][:limit]


def _describe(schema: Mapping[str, Any]) -> str:
    lines = []
    for name, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, Mapping):
            continue
        kind = prop.get("type", "value")
        text = f"{name} ({kind})"
        if prop.get("description"):
            text += f": {prop['description']}"
        if "default" in prop:
            text += f" [default {prop['default']!r}]"
        lines.append(text)
    return "\n".join(lines)


def _canceled_inquiry(execution: Execution) -> bool:
    """What ``on_completed`` acts on (the rest of the completions cost no task)."""
    return execution.runner_type == "inquirer" and execution.status is S.CANCELED

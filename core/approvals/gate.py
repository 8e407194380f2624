"""Executions that run only after someone approves them (an alias's ``approval:``).

The execution is stored at once, held ``pending`` (so it is visible and nothing is lost), and
an approval is created whose ``subject`` names it. The approval's decision — a compare-and-set,
so exactly one answer counts — moves the execution: approved → ``requested`` (it then runs like
any other), denied → ``canceled``, expired → ``timeout``. Canceling the held execution withdraws
the approval. ``reconcile`` repairs what a crash between those two writes left behind, so a
restart never strands an execution or runs one twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from core.approvals.service import ApprovalRequest, ApprovalService
from core.authz.authorizer import SquallUser
from core.executions.service import Admission, ExecutionService
from core.models import Execution, ExecutionStatus
from core.models.approval import Approval, ApprovalStatus
from core.models.execution import isoformat, utcnow
from core.store import ExecutionQuery

__all__ = ["GATE_KIND", "ApprovalGate", "GatedRequest", "ReleaseListener"]

log = logging.getLogger(__name__)

# ``approval.subject.kind`` of gate approvals (workflow inquiries use their own kind).
GATE_KIND: Final = "execution"
# Called with the held execution and its approval just before it is released, so chat can
# register the run card the result will edit before the execution can possibly finish.
ReleaseListener = Callable[[Execution, Approval], Awaitable[None]]
RECONCILE_AFTER: Final = timedelta(seconds=10)
_ENDINGS: Final[Mapping[ApprovalStatus, ExecutionStatus]] = {
    ApprovalStatus.DENIED: ExecutionStatus.CANCELED,
    ApprovalStatus.CANCELED: ExecutionStatus.CANCELED,
    ApprovalStatus.EXPIRED: ExecutionStatus.TIMEOUT,
}


@dataclass(frozen=True)
class GatedRequest:
    """What to run once approved, and who must approve it."""

    action_ref: str
    parameters: Mapping[str, Any]
    context: Mapping[str, Any]
    title: str
    approvers: tuple[str, ...]
    approver_roles: tuple[str, ...]
    ttl: timedelta | None
    requester_may_approve: bool = False
    description: str = ""


class ApprovalGate:
    def __init__(self, executions: ExecutionService, approvals: ApprovalService) -> None:
        self.executions = executions
        self.approvals = approvals
        self._release_listeners: list[ReleaseListener] = []
        approvals.subscribe(self.apply)
        executions.add_completion_listener(self.on_completed, wants=_canceled)

    def add_release_listener(self, listener: ReleaseListener) -> None:
        self._release_listeners.append(listener)

    async def request(
        self,
        gated: GatedRequest,
        *,
        requester: SquallUser,
        place: dict[str, Any],
        admit: Admission | None = None,
    ) -> tuple[Execution, Approval]:
        """Store the held execution and its approval; parameters are checked as for any run.

        Chat values are data (``render_live=False``). Raises what ``ExecutionService.request``
        raises, and ValueError for an approval that names no approvers.
        """
        approval_id = Approval.new_id()
        held = await self.executions.request(
            gated.action_ref,
            gated.parameters,
            context={**gated.context, "approval": {"id": approval_id}},
            render_live=False,
            hold=True,
            admit=admit,
        )
        api = self.executions.to_api(held)  # secrets masked: the subject is audited
        request = ApprovalRequest(
            title=gated.title,
            description=gated.description,
            subject={
                "kind": GATE_KIND,
                "execution_id": held.id,
                "action": gated.action_ref,
                "alias": gated.context.get("action_alias_ref"),
                "parameters": api["parameters"],
            },
            approvers=gated.approvers,
            approver_roles=gated.approver_roles,
            requester_may_approve=gated.requester_may_approve,
            ttl=gated.ttl,
        )
        try:
            approval = await self.approvals.create(
                request, requester=requester, place=place, approval_id=approval_id
            )
        except Exception:
            await self.executions.end_held(
                held.id, ExecutionStatus.FAILED, {"error": "the approval could not be created"}
            )
            raise
        return held, approval

    async def apply(self, approval: Approval) -> None:
        """Approval listener: move the held execution as the decision says (idempotent)."""
        execution_id = _gated_execution(approval)
        if execution_id is None or approval.status is ApprovalStatus.PENDING:
            return
        if approval.status is ApprovalStatus.APPROVED:
            await self._release(execution_id, approval)
            return
        by = f" by {approval.decided_by}" if approval.decided_by else ""
        result = {"message": f"approval {approval.id} {approval.status}{by}"}
        await self.executions.end_held(execution_id, _ENDINGS[approval.status], result)

    async def _release(self, execution_id: str, approval: Approval) -> None:
        held = await self.executions.get(execution_id)
        if held is None or held.status is not ExecutionStatus.PENDING:
            return
        for listener in list(self._release_listeners):
            try:
                await listener(held, approval)
            except Exception:
                log.exception("release listener failed for execution %s", execution_id)
        decision = {
            "id": approval.id,
            "decided_by": approval.decided_by,
            "decided_at": isoformat(approval.decided_at),
        }
        await self.executions.release(execution_id, {"approval": decision})

    async def on_completed(self, execution: Execution) -> None:
        """Completion listener: a held execution canceled by hand withdraws its approval."""
        approval_id = _approval_of(execution)
        if approval_id is None or execution.status is not ExecutionStatus.CANCELED:
            return
        await self.approvals.withdraw(approval_id, reason=f"execution {execution.id} canceled")

    async def reconcile(self, now: datetime | None = None) -> int:
        """Apply decisions a crash left unapplied; end held executions whose approval is gone.

        A decision younger than ``RECONCILE_AFTER`` is left to the process that made it (it
        applies it itself, with its chat card). Returns how many executions it moved. Run at
        start and periodically by ``serve``.
        """
        settled_before = (now or utcnow()) - RECONCILE_AFTER
        moved = 0
        held = await self.executions.store.executions.list(
            ExecutionQuery(statuses=(ExecutionStatus.PENDING,), limit=500)
        )
        for execution in held:
            approval_id = _approval_of(execution)
            if approval_id is None:
                continue  # an inquiry, not a gated execution
            approval = await self.approvals.get(approval_id)
            if approval is None:
                error = {"error": f"approval {approval_id} was never stored"}
                await self.executions.end_held(execution.id, ExecutionStatus.FAILED, error)
                moved += 1
            elif approval.status is not ApprovalStatus.PENDING and (
                approval.decided_at is None or approval.decided_at <= settled_before
            ):
                await self.apply(approval)
                moved += 1
        return moved


def _gated_execution(approval: Approval) -> str | None:
    if approval.subject.get("kind") != GATE_KIND:
        return None
    execution_id = approval.subject.get("execution_id")
    return execution_id if isinstance(execution_id, str) else None


def _approval_of(execution: Execution) -> str | None:
    """The approval id of a held (or once held) execution."""
    approval = execution.context.get("approval")
    if not isinstance(approval, Mapping):
        return None
    approval_id = approval.get("id")
    return approval_id if isinstance(approval_id, str) else None


def _canceled(execution: Execution) -> bool:
    """What ``on_completed`` acts on (the rest of the completions cost no task)."""
    return execution.status is ExecutionStatus.CANCELED

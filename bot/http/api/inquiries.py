"""``/api/v1/inquiries``: open questions of workflows (core.ask), answered with ``PUT``.

Who may answer is the inquiry's own ``users``/``roles`` (core.approvals decides, audits, and
lets exactly one answer win); the API only names the caller.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.http.api.base import (
    LIMIT,
    OFFSET,
    Param,
    RouteTable,
    by_id,
    caller,
    engine_of,
    json_body,
    ok,
    page_of,
    paging,
)
from bot.http.api.errors import ApiError
from core.approvals.inquiries import INQUIRY_KIND
from core.approvals.service import ApprovalRefused
from core.models.approval import Approval

routes = RouteTable("inquiries")
ID = Param("inquiry_id", where="path", required=True)


def inquiry_doc(approval: Approval) -> dict[str, Any]:
    subject, doc = approval.subject, approval.to_doc()
    ttl = None
    if approval.expires_at is not None:
        ttl = max(0, int((approval.expires_at - approval.created_at).total_seconds() // 60))
    return {
        "id": approval.id,
        "status": str(approval.status),
        "parent": subject.get("workflow"),
        "task": subject.get("task"),
        "route": subject.get("route") or "",
        "users": list(approval.approvers),
        "roles": list(approval.approver_roles),
        "schema": approval.schema,
        "ttl": ttl,
        "expires_at": doc.get("expires_at"),
        "response": approval.response,
        "decided_by": approval.decided_by,
    }


async def _inquiry(request: web.Request) -> Approval:
    approvals = engine_of(request).approvals

    async def inquiry(ident: str) -> Approval | None:
        found = await approvals.get(ident)
        return found if found is not None and found.subject.get("kind") == INQUIRY_KIND else None

    return await by_id(request.match_info["inquiry_id"], inquiry, "Inquiry with")


@routes.add("GET", "/api/v1/inquiries", "Open inquiries", params=(
    LIMIT, OFFSET),
    response={"type": "array", "items": {"type": "object"}})  # fmt: skip
async def list_inquiries(request: web.Request) -> web.Response:
    limit, offset = paging(request, default_limit=50)
    pending = await engine_of(request).inquiries.list_pending(limit=offset + limit + 1)
    docs = [inquiry_doc(a) for a in pending]
    return page_of(docs, limit, offset)


@routes.add("GET", "/api/v1/inquiries/{inquiry_id}", "One inquiry", params=(ID,))
async def get_inquiry(request: web.Request) -> web.Response:
    return ok(inquiry_doc(await _inquiry(request)))


@routes.add("PUT", "/api/v1/inquiries/{inquiry_id}", "Answer an inquiry", params=(ID,), body={
    "type": "object", "required": ["response"], "properties": {
        "id": {"type": "string"}, "response": {"type": "object"}}},
    response={"type": "object", "properties": {"id": {"type": "string"},
              "response": {"type": "object"}}})  # fmt: skip
async def respond(request: web.Request) -> web.Response:
    engine = engine_of(request)
    approval = await _inquiry(request)
    response = (await json_body(request)).get("response")
    if not isinstance(response, dict):
        raise ApiError(400, 'response: required, an object such as {"approved": true}')
    who = caller(request)
    try:
        decided = await engine.approvals.respond(
            approval.id, who.user, response, {"adapter": "api"}
        )
    except ApprovalRefused as refused:
        raise ApiError(403, refused.reason) from None
    return ok({"id": decided.id, "response": decided.response or response})

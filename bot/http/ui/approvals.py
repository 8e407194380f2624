"""Approvals and inquiries waiting for the signed-in user: the whole request, Approve / Deny or
a form generated from the inquiry's schema. Decisions go through ApprovalService.respond, the
same compare-and-set as chat (one decision wins), whose listeners edit the chat card."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.http.api.base import engine_of
from bot.http.api.errors import ApiError
from bot.http.ui.forms import FormError, json_schema_fields, parse
from bot.http.ui.render import render
from bot.http.ui.session import SESSION
from core.approvals.inquiries import INQUIRY_KIND
from core.approvals.service import ApprovalRefused, yes_no_response
from core.models.approval import Approval

MAX_PENDING = 500
PLACE = {"adapter": "web"}


def is_yes_no(approval: Approval) -> bool:
    """Answered with two buttons: the schema asks one yes/no question (see yes_no_response)."""
    properties = approval.schema.get("properties") or {}
    [(name, _)] = yes_no_response(approval.schema, True).items()
    return isinstance(properties, dict) and set(properties) <= {name}


def view(approval: Approval) -> dict[str, Any]:
    return {
        "approval": approval,
        "kind": "inquiry" if approval.subject.get("kind") == INQUIRY_KIND else "approval",
        "yes_no": is_yes_no(approval),
        "fields": json_schema_fields(approval.schema),
    }


async def list_page(request: web.Request) -> web.Response:
    engine = engine_of(request)
    user = request[SESSION].caller.user
    pending = await engine.approvals.list_pending(limit=MAX_PENDING)
    mine = [view(a) for a in pending if engine.approvals.may_answer(a, user)]
    return render(request, "approvals.html", waiting=mine)


async def respond(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    approval_id = request.match_info["id"][:64]
    approval = await engine.approvals.get(approval_id)
    if approval is None:
        raise ApiError(404, f"there is no approval {approval_id}")
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    decision = form.get("decision", "")
    try:
        if decision in ("approve", "deny"):
            response = yes_no_response(approval.schema, decision == "approve")
        else:
            response = parse(json_schema_fields(approval.schema), form)
    except FormError as bad:
        raise ApiError(400, str(bad)) from None
    try:
        await engine.approvals.respond(approval.id, request[SESSION].caller.user, response, PLACE)
    except ApprovalRefused as refused:
        raise ApiError(403, refused.reason) from None
    raise web.HTTPSeeOther("/ui/approvals")

"""``/api/v1/rules``: loaded rules as st2 shows them; ``PUT`` switches ``enabled`` (admin only).

Everything else about a rule lives in its pack file; a PUT that changes anything but
``enabled`` is refused with a faultstring saying so.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.http.api.base import (
    LIMIT,
    OFFSET,
    Param,
    RouteTable,
    engine_of,
    json_body,
    ok,
    page_of,
    paging,
    projected,
    require_admin,
)
from bot.http.api.errors import ApiError, not_found
from core.models import Rule
from core.models.rule_state import overrides_of
from core.rules.api import rule_to_api

routes = RouteTable("rules")
REF = Param("ref_or_id", where="path", required=True)


def rule_doc(rule: Rule) -> dict[str, Any]:
    return {**rule_to_api(rule), "id": rule.ref, "uid": f"rule:{rule.pack}:{rule.name}"}


@routes.add("GET", "/api/v1/rules", "List rules", params=(
    LIMIT, OFFSET,
    Param("pack"), Param("name"), Param("enabled", {"type": "boolean"}), Param("action"),
    Param("trigger"), Param("include_attributes"), Param("exclude_attributes")),
    response={"type": "array", "items": {"type": "object"}})  # fmt: skip
async def list_rules(request: web.Request) -> web.Response:
    engine = engine_of(request)
    q = request.query
    enabled = q.get("enabled")
    docs = [
        rule_doc(r)
        for r in sorted(engine.rules.all(), key=lambda r: r.ref)
        if (not q.get("pack") or r.pack == q["pack"])
        and (not q.get("name") or r.name == q["name"])
        and (not q.get("action") or r.action.ref == q["action"])
        and (not q.get("trigger") or r.trigger.type == q["trigger"])
        and (enabled is None or r.enabled == (enabled.lower() in ("true", "1")))
    ]
    limit, offset = paging(request)
    return page_of(projected(request, docs), limit, offset)


@routes.add("GET", "/api/v1/rules/{ref_or_id}", "One rule", params=(REF,))
async def get_rule(request: web.Request) -> web.Response:
    ref = request.match_info["ref_or_id"]
    rule = engine_of(request).rules.get(ref)
    if rule is None:
        raise not_found("rule", ref)
    return ok(rule_doc(rule))


@routes.add("PUT", "/api/v1/rules/{ref_or_id}", "Enable or disable a rule (only `enabled` may "
            "change)", params=(REF,), body={"type": "object", "properties": {
                "enabled": {"type": "boolean"}}})  # fmt: skip
async def update_rule(request: web.Request) -> web.Response:
    engine = engine_of(request)
    ref = request.match_info["ref_or_id"]
    rule = engine.rules.get(ref)
    if rule is None:
        raise not_found("rule", ref)
    who = require_admin(request, f'modify rule "{ref}"')
    body = await json_body(request)
    enabled = body.get("enabled", rule.enabled)
    if not isinstance(enabled, bool):
        raise ApiError(400, "enabled: expected true or false")
    _refuse_other_changes(rule_doc(rule), body)
    states = engine.store.rule_states
    await states.set(rule.ref, enabled, by_user=who.user.name)
    engine.rules.apply_overrides(overrides_of(await states.list()))
    switched = engine.rules.get(rule.ref) or rule
    return ok(rule_doc(switched))


# Fields a client echoes back from GET that Squall ignores on PUT (derived or informational).
_IGNORED = {"id", "uid", "enabled", "ref", "tags", "context", "type", "metadata_file"}


def _refuse_other_changes(current: dict[str, Any], body: dict[str, Any]) -> None:
    for key, value in body.items():
        if key in _IGNORED or key not in current:
            continue
        if value != current[key]:
            raise ApiError(
                400,
                f"{key}: only `enabled` can be changed through the API; edit the rule's pack "
                "file for anything else",
            )

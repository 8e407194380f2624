"""Trigger types, triggers, trigger instances (incl. re-emit) and rule enforcements."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.http.api.base import (
    LIMIT,
    OFFSET,
    Param,
    RouteTable,
    engine_of,
    ok,
    page,
    page_of,
    paging,
    projected,
    require_admin,
)
from bot.http.api.errors import ApiError, not_found
from core.models import TriggerType
from core.models.trigger_instance import TriggerInstance, TriggerInstanceStatus
from core.packs.index import UnknownTriggerTypeError

routes = RouteTable("events")
LIST = (LIMIT, OFFSET,
        Param("include_attributes"), Param("exclude_attributes"))  # fmt: skip
OBJECTS = {"type": "array", "items": {"type": "object"}}
MAX_ID = 64


def trigger_type_doc(trigger: TriggerType) -> dict[str, Any]:
    return {
        "id": trigger.ref,
        "uid": f"trigger_type:{trigger.pack}:{trigger.name}",
        "ref": trigger.ref,
        "name": trigger.name,
        "pack": trigger.pack,
        "description": trigger.description,
        "parameters_schema": dict(trigger.parameters_schema),
        "payload_schema": dict(trigger.payload_schema),
        "tags": [dict(t) for t in trigger.tags],
    }


def instance_doc(instance: TriggerInstance) -> dict[str, Any]:
    doc = instance.to_doc()
    doc["trigger"] = instance.trigger
    return doc


@routes.add("GET", "/api/v1/triggertypes", "List trigger types (`st2 trigger list`)",
            params=(*LIST, Param("pack"), Param("name")), response=OBJECTS)  # fmt: skip
async def list_trigger_types(request: web.Request) -> web.Response:
    index = engine_of(request).content.index
    pack, name = request.query.get("pack"), request.query.get("name")
    docs = [
        trigger_type_doc(t)
        for t in sorted(index.trigger_types.values(), key=lambda t: t.ref)
        if (not pack or t.pack == pack) and (not name or t.name == name)
    ]
    limit, offset = paging(request)
    return page_of(projected(request, docs), limit, offset)


@routes.add("GET", "/api/v1/triggertypes/{ref_or_id}", "One trigger type",
            params=(Param("ref_or_id", where="path", required=True),))  # fmt: skip
async def get_trigger_type(request: web.Request) -> web.Response:
    ref = request.match_info["ref_or_id"]
    trigger = engine_of(request).content.index.trigger_types.get(ref)
    if trigger is None:
        raise not_found("trigger type", ref)
    return ok(trigger_type_doc(trigger))


@routes.add("GET", "/api/v1/triggers", "Triggers: trigger types with the parameters enabled "
            "rules listen with", params=LIST, response=OBJECTS)  # fmt: skip
async def list_triggers(request: web.Request) -> web.Response:
    engine = engine_of(request)
    seen: dict[str, dict[str, Any]] = {}
    for rule in sorted(engine.rules.all(), key=lambda r: r.ref):
        params = dict(rule.trigger.parameters)
        key = f"{rule.trigger.type}:{sorted(params.items())!r}"
        pack, _, name = rule.trigger.type.partition(".")
        seen.setdefault(key, {"id": key, "ref": rule.trigger.type, "type": rule.trigger.type,
                              "pack": pack, "name": name, "parameters": params})  # fmt: skip
    limit, offset = paging(request)
    return page_of(projected(request, list(seen.values())), limit, offset)


@routes.add("GET", "/api/v1/triggerinstances", "List trigger instances, newest first", params=(
    *LIST, Param("trigger"), Param("status")), response=OBJECTS)  # fmt: skip
async def list_instances(request: web.Request) -> web.Response:
    engine = engine_of(request)
    for unsupported in ("timestamp_gt", "timestamp_lt"):
        if request.query.get(unsupported):
            raise ApiError(400, f"{unsupported}: not supported for trigger instances by Squall")
    status_text = request.query.get("status")
    try:
        status = TriggerInstanceStatus(status_text) if status_text else None
    except ValueError:
        raise ApiError(400, f"status: unknown trigger instance status {status_text!r}") from None
    limit, offset = paging(request)
    # One more than asked tells whether there is more, for X-Total-Count's lower bound.
    found = await engine.store.trigger_instances.list(
        request.query.get("trigger") or None, status, limit + 1, offset
    )
    total = offset + len(found)
    return page(projected(request, [instance_doc(i) for i in found[:limit]]), total, limit)


async def _instance(request: web.Request, name: str) -> TriggerInstance:
    instance_id = request.match_info[name]
    found = None
    if len(instance_id) <= MAX_ID:
        found = await engine_of(request).store.trigger_instances.get(instance_id)
    if found is None:
        raise ApiError(404, f'Resource with a id "{instance_id[:MAX_ID]}" not found')
    return found


@routes.add("GET", "/api/v1/triggerinstances/{instance_id}", "One trigger instance",
            params=(Param("instance_id", where="path", required=True),))  # fmt: skip
async def get_instance(request: web.Request) -> web.Response:
    return ok(instance_doc(await _instance(request, "instance_id")))


@routes.add("POST", "/api/v1/triggerinstances/{trigger_instance_id}/re_emit", "Dispatch a copy "
            "of a trigger instance", params=(Param("trigger_instance_id", where="path",
            required=True),))  # fmt: skip
async def re_emit(request: web.Request) -> web.Response:
    require_admin(request, "re-emit trigger instances")
    original = await _instance(request, "trigger_instance_id")
    try:
        copy = await engine_of(request).triggers.dispatch(
            original.trigger,
            dict(original.payload),
            trigger_parameters=dict(original.trigger_parameters),
            source=f"re-emit:{original.id}",
        )
    except UnknownTriggerTypeError:
        raise ApiError(400, f"trigger type {original.trigger} is no longer loaded") from None
    if copy is None:  # pragma: no cover - no dedupe key is passed
        raise ApiError(409, f"trigger instance {original.id} was not re-emitted")
    return ok({
        "message": f"Trigger instance {original.id} succesfully re-sent.",
        "trigger_instance": instance_doc(copy),
    })  # fmt: skip


@routes.add("GET", "/api/v1/ruleenforcements", "List rule enforcements, newest first", params=(
    *LIST, Param("rule_ref"), Param("trigger_instance")), response=OBJECTS)  # fmt: skip
async def list_enforcements(request: web.Request) -> web.Response:
    engine = engine_of(request)
    limit, offset = paging(request)
    found = await engine.store.rule_enforcements.list(
        request.query.get("rule_ref") or None,
        request.query.get("trigger_instance") or None,
        limit + 1,
        offset,
    )
    docs = [_enforcement_doc(e.to_doc()) for e in found[:limit]]
    return page(projected(request, docs), offset + len(found), limit)


def _enforcement_doc(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "rule": {"ref": doc["rule_ref"]}, "execution_id": doc.get("execution_id")}


@routes.add("GET", "/api/v1/ruleenforcements/{id}", "One rule enforcement",
            params=(Param("id", where="path", required=True),))  # fmt: skip
async def get_enforcement(request: web.Request) -> web.Response:
    enforcement_id = request.match_info["id"]
    found = None
    if len(enforcement_id) <= MAX_ID:
        found = await engine_of(request).store.rule_enforcements.get(enforcement_id)
    if found is None:
        raise ApiError(404, f'Resource with a id "{enforcement_id[:MAX_ID]}" not found')
    return ok(_enforcement_doc(found.to_doc()))

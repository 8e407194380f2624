"""Trigger types, triggers, trigger instances (incl. re-emit) and rule enforcements."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.http.api.base import (
    Param,
    RouteTable,
    by_id,
    engine_of,
    ok,
    page,
    page_of,
    paging,
    projected,
    query_timestamp,
    require_admin,
)
from bot.http.api.content import LIST_PARAMS, OBJECT_LIST, add_content_routes
from bot.http.api.errors import ApiError
from core.models import TriggerType
from core.models.trigger_instance import TriggerInstance, TriggerInstanceStatus
from core.packs.index import UnknownTriggerTypeError

routes = RouteTable("events")


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


add_content_routes(routes, "triggertypes", lambda engine: engine.content.index.trigger_types,
                   trigger_type_doc, one="trigger type", many="trigger types (st2 trigger list)",
                   filters=("pack", "name"))  # fmt: skip


@routes.add("GET", "/api/v1/triggers", "Triggers: trigger types with the parameters enabled "
            "rules listen with", params=LIST_PARAMS, response=OBJECT_LIST)  # fmt: skip
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
    *LIST_PARAMS, Param("trigger"), Param("status"), Param("timestamp_gt"),
    Param("timestamp_lt")), response=OBJECT_LIST)  # fmt: skip
async def list_instances(request: web.Request) -> web.Response:
    repository = engine_of(request).store.trigger_instances
    status_text = request.query.get("status")
    try:
        status = TriggerInstanceStatus(status_text) if status_text else None
    except ValueError:
        raise ApiError(400, f"status: unknown trigger instance status {status_text!r}") from None
    trigger = request.query.get("trigger") or None
    after = query_timestamp(request, "timestamp_gt")
    before = query_timestamp(request, "timestamp_lt")
    limit, offset = paging(request)
    found = await repository.list(trigger, status, limit, offset, after=after, before=before)
    total = await repository.count(trigger, status, after=after, before=before)
    return page(projected(request, [instance_doc(i) for i in found]), total, limit)


async def _instance(request: web.Request, name: str) -> TriggerInstance:
    return await by_id(request.match_info[name], engine_of(request).store.trigger_instances.get)


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
    *LIST_PARAMS, Param("rule_ref"), Param("trigger_instance")), response=OBJECT_LIST)  # fmt: skip
async def list_enforcements(request: web.Request) -> web.Response:
    repository = engine_of(request).store.rule_enforcements
    limit, offset = paging(request)
    rule_ref = request.query.get("rule_ref") or None
    instance = request.query.get("trigger_instance") or None
    found = await repository.list(rule_ref, instance, limit, offset)
    docs = [_enforcement_doc(e.to_doc()) for e in found]
    return page(projected(request, docs), await repository.count(rule_ref, instance), limit)


def _enforcement_doc(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "rule": {"ref": doc["rule_ref"]}, "execution_id": doc.get("execution_id")}


@routes.add("GET", "/api/v1/ruleenforcements/{id}", "One rule enforcement",
            params=(Param("id", where="path", required=True),))  # fmt: skip
async def get_enforcement(request: web.Request) -> web.Response:
    found = await by_id(request.match_info["id"], engine_of(request).store.rule_enforcements.get)
    return ok(_enforcement_doc(found.to_doc()))

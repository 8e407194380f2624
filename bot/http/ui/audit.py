"""The audit trail: a trigger instance → the rules listening to its trigger (matched or not,
and which criterion failed, as `squall rule test` explains it) → enforcements → executions;
and the webhook deliveries Squall refused (recorded in the audit log, without secrets)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.http.api.base import engine_of
from bot.http.api.errors import ApiError
from bot.http.ui.render import render
from core.rules.dryrun import evaluate_rule

PAGE_SIZE = 50
WEBHOOK_REFUSED = "webhook.refuse"
MAX_AUDIT_SCAN = 500


async def trail_page(request: web.Request) -> web.Response:
    engine = engine_of(request)
    number = request.query.get("page", "1")
    page = int(number) if number.isdigit() and 0 < int(number) < 10**6 else 1
    found = await engine.store.trigger_instances.list(
        None, None, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE
    )
    entries = await engine.audit.list(limit=MAX_AUDIT_SCAN)
    refused = [e for e in entries if e.kind == WEBHOOK_REFUSED]
    return render(
        request, "audit.html", instances=found[:PAGE_SIZE], more=len(found) > PAGE_SIZE,
        page=page, refused=refused,
    )  # fmt: skip


async def instance_page(request: web.Request) -> web.Response:
    engine = engine_of(request)
    instance_id = request.match_info["id"][:64]
    instance = await engine.store.trigger_instances.get(instance_id)
    if instance is None:
        raise ApiError(404, f'Resource with a id "{instance_id}" not found')
    rules: list[dict[str, Any]] = []
    for rule in engine.rules.all():
        if rule.trigger.type != instance.trigger:
            continue
        result = await evaluate_rule(rule, engine.kv, instance.trigger, dict(instance.payload))
        rules.append({"rule": rule, "result": result})
    enforcements = await engine.store.rule_enforcements.list(None, instance.id, 200, 0)
    executions = {}
    for enforcement in enforcements:
        if enforcement.execution_id:
            found = await engine.store.executions.get(enforcement.execution_id)
            if found is not None:
                executions[found.id] = found
    return render(
        request, "trigger_instance.html", instance=instance, rules=rules,
        enforcements=enforcements, executions=executions,
    )  # fmt: skip

"""``squall trigger|trigger-instance|rule-enforcement|webhook``: what happened, and why (§4.2)."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import yaml

from bot.app import Engine, open_engine
from bot.chat.render import table
from bot.cli.commands import emit, settings_for
from bot.cli.subcommands import SubParsers
from core.models import Rule, TriggerType
from core.models.trigger_instance import FINISHED, TriggerInstance, TriggerInstanceStatus
from core.rules.index import WEBHOOK_TRIGGER, normalize_parameters
from core.webhooks.handler import effective_auth, normalize_hook

INSTANCE_COLUMNS = ("id", "trigger", "status", "occurrence_time", "source")
ENFORCEMENT_COLUMNS = (
    "id", "rule_ref", "trigger_instance_id", "execution_id", "failure_reason", "enforced_at",
)  # fmt: skip
REEMIT_TIMEOUT = 30.0
POLL_SECONDS = 0.02


def add_event_parsers(
    sub: SubParsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Register ``trigger``, ``trigger-instance``, ``rule-enforcement`` and ``webhook``."""
    _add_trigger(sub, common)
    _add_instance(sub, common)
    _add_enforcement(sub, common)
    hook = sub.add_parser("webhook", parents=[common], help="list webhooks")
    hook_sub = hook.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    hook_list = hook_sub.add_parser("list", parents=[common], help="hooks of enabled rules")
    hook_list.set_defaults(handler=webhook_list)


def _add_trigger(sub: SubParsers[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    trigger = sub.add_parser("trigger", parents=[common], help="list trigger types")
    trigger_sub = trigger.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    list_ = trigger_sub.add_parser("list", parents=[common], help="built-in and pack triggers")
    list_.add_argument("--pack", help="only this pack's trigger types")
    list_.set_defaults(handler=trigger_list)


def _add_instance(
    sub: SubParsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    ti = sub.add_parser("trigger-instance", parents=[common], help="list, get or re-emit")
    ti_sub = ti.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    list_ = ti_sub.add_parser("list", parents=[common], help="recent trigger instances")
    list_.add_argument("--trigger", help="filter by trigger type ref")
    list_.add_argument("--status", choices=[str(s) for s in TriggerInstanceStatus])
    list_.add_argument("--limit", type=int, default=50)
    list_.set_defaults(handler=instance_list)
    get = ti_sub.add_parser("get", parents=[common], help="one trigger instance")
    get.add_argument("id")
    get.set_defaults(handler=instance_get)
    again = ti_sub.add_parser("re-emit", parents=[common], help="dispatch a copy of one")
    again.add_argument("id")
    again.set_defaults(handler=instance_re_emit)


def _add_enforcement(
    sub: SubParsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    re = sub.add_parser("rule-enforcement", parents=[common], help="list rule enforcements")
    re_sub = re.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    list_ = re_sub.add_parser("list", parents=[common], help="recent rule enforcements")
    list_.add_argument("--rule", help="filter by rule ref")
    list_.add_argument("--trigger-instance", help="filter by trigger instance id")
    list_.add_argument("--limit", type=int, default=50)
    list_.set_defaults(handler=enforcement_list)


# --- trigger types --------------------------------------------------------------------------


def trigger_type_to_api(trigger: TriggerType) -> dict[str, Any]:
    return {
        "ref": trigger.ref,
        "pack": trigger.pack,
        "name": trigger.name,
        "description": trigger.description,
        "parameters": sorted(trigger.parameters_schema.get("properties") or {}),
    }


async def trigger_list(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        types = sorted(engine.content.index.trigger_types.values(), key=lambda t: t.ref)
    apis = [trigger_type_to_api(t) for t in types if not args.pack or t.pack == args.pack]
    rows = [{**a, "parameters": ", ".join(a["parameters"])} for a in apis]
    emit(args, apis, table(rows, ("ref", "description", "parameters")))
    return 0


# --- trigger instances ----------------------------------------------------------------------


async def instance_list(args: argparse.Namespace) -> int:
    status = TriggerInstanceStatus(args.status) if args.status else None
    async with open_engine(settings_for(args), start=False) as engine:
        found = await engine.store.trigger_instances.list(args.trigger, status, args.limit)
    docs = [i.to_doc() for i in found]
    emit(args, docs, table(docs, INSTANCE_COLUMNS))
    return 0


async def _instance(engine: Engine, instance_id: str) -> TriggerInstance:
    instance = await engine.store.trigger_instances.get(instance_id)
    if instance is None:
        raise LookupError(f"trigger instance {instance_id} not found")
    return instance


def _instance_human(instance: TriggerInstance) -> str:
    doc = instance.to_doc()
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False)


async def instance_get(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        instance = await _instance(engine, args.id)
    emit(args, instance.to_doc(), _instance_human(instance).rstrip())
    return 0


async def instance_re_emit(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        original = await _instance(engine, args.id)
        copy = await engine.triggers.dispatch(
            original.trigger,
            dict(original.payload),
            trigger_parameters=dict(original.trigger_parameters),
            source=f"re-emit:{original.id}",
        )
        if copy is None:  # pragma: no cover - no dedupe key is passed
            raise RuntimeError(f"trigger instance {args.id} was not re-emitted")
        try:
            done = await asyncio.wait_for(_finished(engine, copy.id), REEMIT_TIMEOUT)
        finally:
            await engine.triggers.stop(grace=1.0)
    emit(args, done.to_doc(), _instance_human(done).rstrip())
    return 0 if done.status is TriggerInstanceStatus.PROCESSED else 1


async def _finished(engine: Engine, instance_id: str) -> TriggerInstance:
    while True:
        current = await _instance(engine, instance_id)
        if current.status in FINISHED:
            return current
        await asyncio.sleep(POLL_SECONDS)


# --- rule enforcements ----------------------------------------------------------------------


async def enforcement_list(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        found = await engine.store.rule_enforcements.list(
            args.rule, args.trigger_instance, args.limit
        )
    docs = [e.to_doc() for e in found]
    emit(args, docs, table(docs, ENFORCEMENT_COLUMNS))
    return 0


# --- webhooks -------------------------------------------------------------------------------


def hooks_of(rules: list[Rule]) -> dict[str, list[str]]:
    """Webhook url → refs of the enabled rules listening to it (st2 strips the slashes)."""
    hooks: dict[str, list[str]] = {}
    for rule in sorted(rules, key=lambda r: r.ref):
        if not rule.enabled or rule.trigger.type != WEBHOOK_TRIGGER:
            continue
        url = normalize_parameters(WEBHOOK_TRIGGER, rule.trigger.parameters).get("url")
        if isinstance(url, str):
            hooks.setdefault(normalize_hook(url), []).append(rule.ref)
    return hooks


async def webhook_list(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    async with open_engine(settings, start=False) as engine:
        hooks = hooks_of(engine.rules.all())  # with rule enable|disable applied
    rows = []
    for url, rules in sorted(hooks.items()):
        auth = effective_auth(settings.webhooks.auth_for(url))
        rows.append({"url": url, "rules": rules, "auth": auth.label})
    human = [{**row, "rules": ", ".join(row["rules"])} for row in rows]
    emit(args, rows, table(human, ("url", "auth", "rules")))
    return 0

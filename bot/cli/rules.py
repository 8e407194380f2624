"""``squall rule list|get|enable|disable|test``: loaded rules, their on/off switch, and a dry run
like ``st2-rule-tester`` (§4).

``enable``/``disable`` store an override in the store (``rule_states``); every command shows the
effective state, and a running ``serve`` picks the change up within ``rules.refresh_seconds``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

from bot.app import Engine, open_engine
from bot.chat.render import table
from bot.cli.commands import emit, settings_for
from bot.cli.subcommands import CLI_USER, SubParsers
from core.kv.lookup import kv_context
from core.models import Pack, Rule
from core.models.rule_state import overrides_of
from core.packs.errors import FileProblems, PackError, only_errors
from core.packs.index import ContentIndex
from core.packs.paths import PackDir
from core.packs.rules import load_rule, reference_problems
from core.packs.yamlfile import load_yaml_mapping
from core.params import mask_secrets, merge_parameter_schemas
from core.rules.api import rule_to_api
from core.rules.criteria import CriteriaResult
from core.rules.dryrun import evaluate_rule
from core.rules.matcher import RULE_USER, RenderedAction, render_action
from core.runners.types import RUNNER_TYPES

LIST_COLUMNS = ("ref", "enabled", "type", "trigger", "action", "description")
RULE_SUFFIXES = (".yaml", ".yml")


def add_rule_parser(
    sub: SubParsers[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Register ``rule`` and its sub-commands on the top-level sub-parsers ``sub``."""
    rule = sub.add_parser("rule", parents=[common], help="list, show, switch or test rules")
    rule_sub = rule.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")

    list_ = rule_sub.add_parser("list", parents=[common], help="loaded rules")
    list_.add_argument("--pack", help="only this pack's rules")
    shown = list_.add_mutually_exclusive_group()
    shown.add_argument("--enabled", dest="all", action="store_false", help="enabled (default)")
    shown.add_argument("--all", dest="all", action="store_true", help="disabled ones too")
    list_.set_defaults(handler=rule_list, all=False)

    get = rule_sub.add_parser("get", parents=[common], help="one rule")
    get.add_argument("ref")
    get.set_defaults(handler=rule_get)

    for name, enabled in (("enable", True), ("disable", False)):
        switch = rule_sub.add_parser(name, parents=[common], help=f"{name} a rule (live)")
        switch.add_argument("ref")
        switch.set_defaults(handler=rule_switch, enabled=enabled)

    test = rule_sub.add_parser(
        "test", parents=[common], help="match a trigger instance, run nothing"
    )
    test.add_argument("rule", metavar="RULE.yaml|REF", help="a rule file or a loaded rule's ref")
    test.add_argument(
        "--trigger-instance",
        required=True,
        metavar="FILE.json",
        help='{"trigger": REF, "payload": {...}} (or an st2 trigger instance export)',
    )
    test.set_defaults(handler=rule_test)


def _row(api: dict[str, Any]) -> dict[str, Any]:
    return {**api, "type": api["type"]["ref"], "trigger": api["trigger"]["type"],
            "action": api["action"]["ref"]}  # fmt: skip


async def rule_list(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        rules = sorted(engine.rules.all(), key=lambda r: r.ref)
    apis = [
        rule_to_api(r)
        for r in rules
        if (not args.pack or r.pack == args.pack) and (args.all or r.enabled)
    ]
    emit(args, apis, table([_row(a) for a in apis], LIST_COLUMNS))
    return 0


async def rule_get(args: argparse.Namespace) -> int:
    async with open_engine(settings_for(args), start=False) as engine:
        rule = _effective(engine, args.ref)
    api = rule_to_api(rule)
    emit(args, api, yaml.safe_dump(api, sort_keys=False).rstrip())
    return 0


async def rule_switch(args: argparse.Namespace) -> int:
    """``rule enable|disable REF``: store the override; unknown refs fail with a suggestion."""
    async with open_engine(settings_for(args), start=False) as engine:
        engine.content.index.get_rule(args.ref)  # UnknownRuleError: "did you mean …"
        states = engine.store.rule_states
        await states.set(args.ref, args.enabled, by_user=CLI_USER)
        engine.rules.apply_overrides(overrides_of(await states.list()))
        rule = _effective(engine, args.ref)
    word = "enabled" if rule.enabled else "disabled"
    emit(args, rule_to_api(rule), f"rule {rule.ref} {word}")
    return 0


def _effective(engine: Engine, ref: str) -> Rule:
    """The rule with ``rule enable|disable`` applied; UnknownRuleError names near misses."""
    return engine.rules.get(ref) or engine.content.index.get_rule(ref)


# --- rule test ----------------------------------------------------------------------------------


def read_trigger_instance(path: Path) -> tuple[str | None, dict[str, Any]]:
    """``(trigger ref or None, payload)`` from ``{"trigger", "payload"}``, optionally wrapped in
    ``{"trigger_instance": ...}``; ``trigger`` may also be ``{"type"|"ref": ...}``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read trigger instance: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("trigger_instance"), dict):
        data = data["trigger_instance"]
    if not isinstance(data, dict) or not isinstance(data.get("payload", {}), dict):
        raise ValueError(f'{path}: expected {{"trigger": REF, "payload": {{...}}}}')
    trigger = data.get("trigger")
    if isinstance(trigger, dict):
        trigger = trigger.get("type") or trigger.get("ref")
    return (trigger if isinstance(trigger, str) else None), data.get("payload") or {}


def _pack_for(path: Path, index: ContentIndex) -> Pack:
    # The loader's reader: same size limits, PackFileError is one line naming the file.
    ref = load_yaml_mapping(path, path).data.get("pack")
    if not isinstance(ref, str):
        raise ValueError(f"{path}: the rule needs a 'pack' key to be tested from a file")
    # A pack that is not loaded still gives the rule its ref; its config is then empty.
    return index.packs.get(ref) or Pack(ref=ref, name=ref, path=path.parent)


def load_rule_file(path: Path, index: ContentIndex) -> Rule:
    """Check one rule file as the pack loader would, against the loaded packs."""
    errors: list[PackError] = []
    rule = load_rule(PackDir.at(path.parent), _pack_for(path, index), path.name, errors)
    if rule is not None:
        reference_problems(rule, index, FileProblems(path, errors))
    if rule is None or only_errors(errors):
        raise ValueError("; ".join(str(e) for e in errors) or f"{path}: invalid rule")
    return rule


def _find_rule(spec: str, engine: Engine) -> Rule:
    path = Path(spec)
    if spec.endswith(RULE_SUFFIXES) or path.is_file():
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such rule file")
        return load_rule_file(path, engine.content.index)
    return _effective(engine, spec)


async def _render(rule: Rule, engine: Engine, payload: dict[str, Any]) -> RenderedAction:
    index = engine.content.index
    action = index.get_action(rule.action.ref)
    pack = index.packs.get(action.pack)
    # The real datastore, as the dispatcher would render it (st2kv.system / st2kv.user).
    kv = await kv_context(engine.kv, RULE_USER)
    config = pack.config if pack else {}
    rendered = render_action(rule, action, payload, pack_config=config, kv=kv)
    runner = RUNNER_TYPES.get(action.runner_type)
    if not rendered.ok or runner is None:
        return rendered
    schema = merge_parameter_schemas(runner, action)
    # Unset parameters are noise; secrets (e.g. from the pack config) are never printed.
    present = {k: v for k, v in rendered.parameters.items() if v is not None}
    return RenderedAction(rendered.action_ref, parameters=mask_secrets(schema, present))


def _report(rule: Rule, result: CriteriaResult, rendered: RenderedAction | None) -> dict[str, Any]:
    return {
        "rule": rule.ref,
        "matched": result.matched,
        "failed_key": result.failed_key,
        "reason": result.reason,
        "error": result.error,
        "criteria": [
            {"key": d.key, "matched": d.matched, "reason": d.reason} for d in result.details
        ],
        "action": None
        if rendered is None
        else {
            "ref": rendered.action_ref,
            "parameters": rendered.parameters,
            "error": rendered.error,
        },
    }


def _human(report: dict[str, Any]) -> str:
    if not report["matched"]:
        why = report["error"] or report["reason"]
        return f"{report['rule']}: does not match\n  {why}"
    lines = [f"{report['rule']}: matches"]
    lines += [f"  {c['reason']}" for c in report["criteria"]]
    action = report["action"]
    if action["error"]:
        return "\n".join([*lines, f"action {action['ref']} would fail: {action['error']}"])
    lines.append(f"action {action['ref']} (not run):")
    lines += [f"  {k}: {v}" for k, v in sorted(action["parameters"].items())]
    return "\n".join(lines)


async def rule_test(args: argparse.Namespace) -> int:
    trigger, payload = read_trigger_instance(Path(args.trigger_instance))
    async with open_engine(settings_for(args), start=False) as engine:
        rule = _find_rule(args.rule, engine)
        result = await evaluate_rule(rule, engine.kv, trigger, payload)
        rendered = await _render(rule, engine, payload) if result.matched else None
    report = _report(rule, result, rendered)
    emit(args, report, _human(report))
    # A rendering failure would make st2 create an execution that fails at once.
    return 0 if result.matched and rendered is not None and rendered.ok else 1

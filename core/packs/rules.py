"""Rule metadata (``rules/*.yaml``): st2-format §4.1, registered as ``<pack>.<name>``.

A rule is checked in two steps. ``load`` checks its shape; ``resolve`` runs once every pack is
registered, because the trigger type and the action it names may come from a later pack.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from typing import Any

from core.models import Pack, Rule, RuleAction, RuleTrigger
from core.packs import schemacheck
from core.packs.content import PackContent
from core.packs.errors import FileProblems, PackError
from core.packs.index import ContentIndex, UnknownActionError, UnknownTriggerTypeError
from core.packs.metadata import check_pack_field, drop_unresolved, load_all, read_metadata
from core.packs.paths import PackDir
from core.triggers.builtin import TIMER_TYPES
from core.triggers.timer_specs import TimerSpecError, build_trigger

RULES_DIR = "rules"

_CRITERION = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        # Any value: operators compare strings, numbers, lists; ``search`` takes a mapping.
        "pattern": {},
        "condition": {"enum": ["any", "all", "any2any", "all2any"]},
    },
    "additionalProperties": False,
}
_RULE = schemacheck.validator_for(
    {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "pattern": r"^\S+$"},
            "pack": {"type": "string"},
            "description": {"type": "string"},
            "enabled": {"type": "boolean"},
            "trigger": {
                "type": "object",
                "properties": {
                    "type": {"type": "string", "minLength": 1},
                    "parameters": {"type": "object"},
                    "ref": {"type": "string"},  # exported by st2, ignored
                },
                "additionalProperties": False,
            },
            "criteria": {"type": "object", "additionalProperties": _CRITERION},
            "action": {
                "type": "object",
                "properties": {
                    "ref": {"type": "string", "minLength": 1},
                    "parameters": {"type": "object"},
                },
                "additionalProperties": False,
            },
            "type": {
                "type": "object",
                "properties": {
                    "ref": {"enum": ["standard", "backstop"]},
                    "parameters": {"type": "object"},
                },
                "additionalProperties": False,
            },
            "context": {"type": "object"},
            "tags": {"type": "array", "items": {"type": "object"}},
            # Computed by st2 and ignored here, but valid in exported metadata.
            "ref": {"type": "string"},
            "uid": {"type": "string"},
            "id": {"type": "string"},
            "metadata_file": {"type": "string"},
        },
        "additionalProperties": False,  # as st2's RuleAPI: a misspelt key is an error
    }
)
_REQUIRED = (("name",), ("trigger",), ("action",))


def load_rule(pack_dir: PackDir, pack: Pack, relative: str, errors: list[PackError]) -> Rule | None:
    """Load one rule file; ``None`` (with every problem added to ``errors``) if invalid."""
    read = read_metadata(pack_dir, relative, errors)
    if read is None:
        return None
    doc, problems = read
    data = doc.data
    schemacheck.check(_RULE, data, problems)
    _check_required(data, problems)
    check_pack_field(data.get("pack"), pack.ref, "rule", problems)
    return None if problems.count else _build(data, pack, problems)


def _check_required(data: dict[Any, Any], problems: FileProblems) -> None:
    for path in _REQUIRED:
        if path[0] not in data:
            problems.add(path, "required key is missing")
    for section, key in (("trigger", "type"), ("action", "ref")):
        part = data.get(section)
        if isinstance(part, dict) and key not in part:
            problems.add((section, key), "required key is missing")
    criteria = data.get("criteria")
    if isinstance(criteria, dict):
        for name, spec in criteria.items():
            if isinstance(spec, dict) and "type" not in spec:
                problems.add(("criteria", str(name), "type"), "required key is missing")


def _build(data: dict[Any, Any], pack: Pack, problems: FileProblems) -> Rule:
    # Only called on a document that passed every check, so keys have their types.
    trigger, action = data["trigger"], data["action"]
    return Rule(
        pack=pack.ref,
        name=data["name"],
        trigger=RuleTrigger(trigger["type"], trigger.get("parameters", {})),
        action=RuleAction(action["ref"], action.get("parameters", {})),
        criteria={str(key): spec for key, spec in data.get("criteria", {}).items()},
        description=data.get("description", ""),
        enabled=data.get("enabled", False),
        type=data.get("type", {}).get("ref", "standard"),
        context=data.get("context", {}),
        tags=tuple(data.get("tags", [])),
        metadata_file=problems.file,
    )


def reference_problems(rule: Rule, index: ContentIndex, problems: FileProblems) -> None:
    """Check what the rule names in other packs: its trigger type (and parameters), its action."""
    try:
        trigger_type = index.get_trigger_type(rule.trigger.type)
    except UnknownTriggerTypeError as exc:
        problems.add(("trigger", "type"), str(exc))
    else:
        _check_parameters(trigger_type.parameters_schema, rule.trigger.parameters, problems)
        if not problems.count:
            _check_timer(rule, problems)
    try:
        index.get_action(rule.action.ref)
    except UnknownActionError as exc:
        pack = rule.action.ref.partition(".")[0]
        if pack in index.packs:
            problems.add(("action", "ref"), str(exc))
        else:  # as st2: registered, and each enforcement fails until the pack is installed
            message = f"action {rule.action.ref!r}: pack {pack!r} is not installed; the rule is "
            problems.warn(("action", "ref"), message + "loaded and its enforcements fail")


def _check_timer(rule: Rule, problems: FileProblems) -> None:
    """What the schema cannot see: timezone names, date strings, cron expressions."""
    if rule.trigger.type in TIMER_TYPES:
        try:
            build_trigger(rule.trigger.type, rule.trigger.parameters, UTC)
        except TimerSpecError as exc:
            problems.add(("trigger", "parameters"), str(exc))


def _check_parameters(
    schema: Mapping[str, Any], parameters: Mapping[str, Any], problems: FileProblems
) -> None:
    # Missing parameters are reported at their own path, worded like every missing key.
    base = ("trigger", "parameters")
    required = schema.get("required", [])
    for name in required if isinstance(required, list) else []:
        if name not in parameters:
            problems.add((*base, str(name)), "required key is missing")
    rest = {key: value for key, value in schema.items() if key != "required"}
    schemacheck.check(schemacheck.validator_for(rest), dict(parameters), problems, base)


class RuleKind:
    """Loads ``rules/*.yaml``; a name used twice in a pack is an error, the first file wins."""

    def load(self, content: PackContent, errors: list[PackError]) -> None:
        content.rules.extend(load_all(content, RULES_DIR, "rule", load_rule, errors))

    def register(self, content: PackContent, index: ContentIndex, errors: list[PackError]) -> None:
        # Unchecked until ``resolve``: pack refs are unique, so rule refs cannot collide.
        for rule in content.rules:
            index.rules[rule.ref] = rule

    def resolve(self, index: ContentIndex, errors: list[PackError]) -> None:
        drop_unresolved(index.rules, lambda r, found: reference_problems(r, index, found), errors)

"""The triggers a sensor serves, as st2 hands them to ``add_trigger`` & co. Pure.

st2 keeps one Trigger object per (trigger type, parameters) that rules use; a sensor is told
about every one of its types. Squall derives them from the enabled rules: a rule created,
enabled, disabled or removed changes that set, and the difference becomes ``add_trigger`` /
``remove_trigger`` calls; ``update_trigger`` when a trigger keeps its identity but not its
content (its description or the rules' order).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from core.models import Rule

TriggerDict = dict[str, Any]


@dataclass(frozen=True)
class TriggerChange:
    op: str  # add_trigger | update_trigger | remove_trigger
    trigger: TriggerDict


def sensor_triggers(trigger_types: Iterable[str], rules: Iterable[Rule]) -> dict[str, TriggerDict]:
    """The triggers of these types that enabled ``rules`` use, by their st2-style uid."""
    wanted = set(trigger_types)
    found: dict[str, TriggerDict] = {}
    for rule in rules:
        if not rule.enabled or rule.trigger.type not in wanted:
            continue
        trigger = trigger_dict(rule.trigger.type, rule.trigger.parameters)
        found.setdefault(trigger["uid"], trigger)
    return found


def trigger_dict(type_ref: str, parameters: Mapping[str, Any]) -> TriggerDict:
    """A trigger as st2's sensor API receives it: ``id``, ``name``, ``pack``, ``type``,
    ``parameters``, ``ref`` and ``uid`` (the name is derived, so stable across restarts)."""
    pack = type_ref.split(".", 1)[0]
    canonical = json.dumps(dict(parameters), sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(f"{type_ref}\0{canonical}".encode()).hexdigest()[:24]
    name = type_ref.split(".", 1)[1] if not parameters else f"{type_ref.split('.', 1)[1]}.{digest}"
    return {
        "id": digest,
        "name": name,
        "pack": pack,
        "type": type_ref,
        "parameters": dict(parameters),
        "ref": f"{pack}.{name}",
        "uid": f"trigger:{pack}:{name}:{digest}",
    }


def trigger_changes(
    before: Mapping[str, TriggerDict], after: Mapping[str, TriggerDict]
) -> list[TriggerChange]:
    changes = [TriggerChange("remove_trigger", t) for uid, t in before.items() if uid not in after]
    for uid, trigger in after.items():
        if uid not in before:
            changes.append(TriggerChange("add_trigger", trigger))
        elif before[uid] != trigger:
            changes.append(TriggerChange("update_trigger", trigger))
    return changes

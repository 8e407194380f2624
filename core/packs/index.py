"""The loaded content, by ref: what the engine looks actions, trigger types and rules (and later
aliases…) up in."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from core.models import Action, Alias, Pack, Rule, TriggerType
from core.models.policy import Policy
from core.triggers import BUILTIN_TRIGGER_TYPES


class UnknownContentError(KeyError):
    """A ref that is not loaded; the message suggests close matches."""

    kind = "content"

    def __init__(self, ref: str, known: Iterable[str]) -> None:
        self.ref = ref
        self.suggestions = difflib.get_close_matches(ref, sorted(known), n=3, cutoff=0.8)
        super().__init__(self._message())

    def _message(self) -> str:
        message = f"unknown {self.kind} {self.ref!r}"
        if self.suggestions:
            message += f"; did you mean {' or '.join(repr(s) for s in self.suggestions)}?"
        return message

    def __str__(self) -> str:
        # KeyError would print the repr of its argument, quotes and all.
        return self._message()


class UnknownActionError(UnknownContentError):
    kind = "action"


class UnknownTriggerTypeError(UnknownContentError):
    kind = "trigger type"


class UnknownRuleError(UnknownContentError):
    kind = "rule"


def _builtin_trigger_types() -> dict[str, TriggerType]:
    return dict(BUILTIN_TRIGGER_TYPES)


@dataclass
class ContentIndex:
    packs: dict[str, Pack] = field(default_factory=dict)
    actions: dict[str, Action] = field(default_factory=dict)
    # Built-in types are always there: rules may use them without any pack declaring them.
    trigger_types: dict[str, TriggerType] = field(default_factory=_builtin_trigger_types)
    rules: dict[str, Rule] = field(default_factory=dict)
    aliases: dict[str, Alias] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    # Workflow definitions as inspected at load (core.workflows.definitions), by action ref:
    # the engine starts a workflow without reading and parsing its YAML a second time.
    workflow_definitions: dict[str, object] = field(default_factory=dict, repr=False)

    def get_action(self, ref: str) -> Action:
        try:
            return self.actions[ref]
        except KeyError:
            raise UnknownActionError(ref, self.actions) from None

    def get_trigger_type(self, ref: str) -> TriggerType:
        try:
            return self.trigger_types[ref]
        except KeyError:
            raise UnknownTriggerTypeError(ref, self.trigger_types) from None

    def get_rule(self, ref: str) -> Rule:
        try:
            return self.rules[ref]
        except KeyError:
            raise UnknownRuleError(ref, self.rules) from None

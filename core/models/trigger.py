"""Trigger types and rules as loaded from packs (st2-format §4.1, §5)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# One criterion as written in a rule: ``{type: <operator>, pattern: ..., condition?: ...}``;
# the rules engine (core.rules) evaluates the mapping as is.
CriterionSpec = Mapping[str, Any]


@dataclass(frozen=True)
class TriggerType:
    """A trigger's schemas: built in (pack ``core``) or declared in ``triggers/*.yaml``."""

    pack: str
    name: str
    description: str = ""
    parameters_schema: Mapping[str, Any] = field(default_factory=dict)
    payload_schema: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[Mapping[str, Any], ...] = ()
    metadata_file: Path | None = None

    @property
    def ref(self) -> str:
        return f"{self.pack}.{self.name}"


@dataclass(frozen=True)
class RuleTrigger:
    """The trigger a rule listens to: its type ref plus the parameters naming the instance."""

    type: str
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleAction:
    """The action a matching rule runs; parameters are Jinja templates, rendered at enforcement."""

    ref: str
    parameters: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    pack: str
    name: str
    trigger: RuleTrigger
    action: RuleAction
    criteria: Mapping[str, CriterionSpec] = field(default_factory=dict)
    description: str = ""
    # st2's schema default: a rule must opt in to firing.
    enabled: bool = False
    # ``standard``, or ``backstop`` (fires only when no standard rule matched).
    type: str = "standard"
    context: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[Mapping[str, Any], ...] = ()
    metadata_file: Path | None = None

    @property
    def ref(self) -> str:
        return f"{self.pack}.{self.name}"

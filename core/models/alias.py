"""Action aliases as loaded from packs and site folders (st2-format §6.1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AliasFormat:
    """One ``formats`` item: help text plus the patterns matched against chat text.

    A plain string format is its own display and single representation. A dict with only
    ``display`` is help-only: its one representation is ``""`` (st2 still tries it).
    """

    display: str
    representations: tuple[str, ...]
    match_multiple: bool = False


@dataclass(frozen=True)
class AliasApproval:
    """Squall's four-eyes extension: someone else must approve before the action runs.

    ``approvers`` are user names or ``role:NAME`` entries.
    """

    approvers: tuple[str, ...]
    ttl_seconds: float
    requester_may_approve: bool = False


@dataclass(frozen=True)
class Alias:
    pack: str
    name: str
    action_ref: str
    description: str = ""
    enabled: bool = True
    formats: tuple[AliasFormat, ...] = ()
    # ``{enabled, format, append_url, extra}`` and ``{enabled, format, extra}`` as written.
    ack: Mapping[str, Any] = field(default_factory=dict)
    result: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    immutable_parameters: Mapping[str, Any] = field(default_factory=dict)
    approval: AliasApproval | None = None
    # The YAML file it came from ("" when built in code).
    source: str = ""
    # Loaded from a site folder (``aliases.paths``), not shipped by a pack.
    site: bool = False

    @property
    def ref(self) -> str:
        return f"{self.pack}.{self.name}"

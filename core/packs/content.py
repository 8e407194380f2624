"""Content kinds: one loader per pack folder (actions, trigger types and rules now; aliases,
policies, sensors and workflows are added by appending a kind to ``CONTENT_KINDS`` in
``loader.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from core.models import Action, Alias, Pack, Rule, TriggerType
from core.models.policy import Policy
from core.packs.errors import PackError
from core.packs.index import ContentIndex
from core.packs.paths import PackDir


@dataclass
class PackContent:
    """Everything loaded from one pack, before it is registered in the index."""

    pack: Pack
    directory: PackDir
    actions: list[Action] = field(default_factory=list)
    trigger_types: list[TriggerType] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    aliases: list[Alias] = field(default_factory=list)
    policies: list[Policy] = field(default_factory=list)


class ContentKind(Protocol):
    def load(self, content: PackContent, errors: list[PackError]) -> None:
        """Read this kind's files from ``content.directory`` into ``content``; broken items are
        reported and left out."""

    def register(self, content: PackContent, index: ContentIndex, errors: list[PackError]) -> None:
        """Add the loaded items to the index; references to packs loaded later are checked by a
        ``CrossPackKind``."""


@runtime_checkable
class CrossPackKind(Protocol):
    """A kind whose items refer to other packs' content (rules → trigger types, actions)."""

    def resolve(self, index: ContentIndex, errors: list[PackError]) -> None:
        """Check references once every pack is registered; drop the items that break."""

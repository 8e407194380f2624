"""Content kinds: one loader per pack folder (actions now; rules, aliases, policies, sensors,
triggers and workflows are added by appending a kind to ``CONTENT_KINDS`` in ``loader.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from core.models import Action, Pack
from core.packs.errors import PackError
from core.packs.index import ContentIndex
from core.packs.paths import PackDir


@dataclass
class PackContent:
    """Everything loaded from one pack, before it is registered in the index."""

    pack: Pack
    directory: PackDir
    actions: list[Action] = field(default_factory=list)


class ContentKind(Protocol):
    def load(self, content: PackContent, errors: list[PackError]) -> None:
        """Read this kind's files from ``content.directory`` into ``content``; broken items are
        reported and left out."""

    def register(self, content: PackContent, index: ContentIndex, errors: list[PackError]) -> None:
        """Add the loaded items to the index (cross-pack checks belong here)."""

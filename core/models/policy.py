"""Policy metadata (``policies/*.yaml``): st2-format §9, registered as ``<pack>.<name>``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONCURRENCY = "action.concurrency"
CONCURRENCY_ATTR = "action.concurrency.attr"
RETRY = "action.retry"
POLICY_TYPES = (CONCURRENCY, CONCURRENCY_ATTR, RETRY)


@dataclass(frozen=True)
class Policy:
    pack: str
    name: str
    resource_ref: str
    policy_type: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    # st2's schema default: unlike rules, a policy applies unless it opts out.
    enabled: bool = True
    metadata_file: Path | None = None

    @property
    def ref(self) -> str:
        return f"{self.pack}.{self.name}"

"""A rule's enabled state as set by ``squall rule enable|disable``, overriding its pack file."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.models.execution import isoformat, parse_ts


@dataclass(frozen=True)
class RuleState:
    ref: str
    enabled: bool
    updated_at: datetime
    updated_by: str = ""

    def to_doc(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "enabled": self.enabled,
            "updated_at": isoformat(self.updated_at),
            "updated_by": self.updated_by,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> RuleState:
        updated = parse_ts(doc.get("updated_at"))
        if updated is None:
            raise ValueError(f"rule state {doc.get('ref')!r}: updated_at is missing")
        return cls(
            ref=doc["ref"],
            enabled=bool(doc["enabled"]),
            updated_at=updated,
            updated_by=doc.get("updated_by") or "",
        )


def overrides_of(states: Iterable[RuleState]) -> dict[str, bool]:
    """The mapping ``RuleSet.apply_overrides`` takes: rule ref → enabled."""
    return {state.ref: state.enabled for state in states}

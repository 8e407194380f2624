"""Which StackStorm trace something belongs to (st2's ``trace_context``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.models.execution import new_id

# The key st2 uses in an execution's context, and Squall in a trigger instance's document.
TRACE_CONTEXT = "trace_context"


@dataclass(frozen=True)
class TraceContext:
    """A trace's id, and the tag a caller may have given it (``St2-Trace-Tag``, ``trace_tag``)."""

    id: str
    tag: str | None = None

    @classmethod
    def new(cls, tag: str | None = None) -> TraceContext:
        return cls(new_id(), tag or None)

    @classmethod
    def from_doc(cls, raw: object) -> TraceContext | None:
        """Read st2's ``{"id_": …, "trace_tag": …}``; None when absent or malformed."""
        if not isinstance(raw, Mapping) or not isinstance(raw.get("id_"), str):
            return None
        tag = raw.get("trace_tag")
        return cls(raw["id_"], tag if isinstance(tag, str) and tag else None)

    @classmethod
    def of_execution(cls, context: Mapping[str, Any]) -> TraceContext | None:
        return cls.from_doc(context.get(TRACE_CONTEXT))

    def to_doc(self) -> dict[str, Any]:
        return {"id_": self.id, "trace_tag": self.tag}


@dataclass(frozen=True)
class TraceSummary:
    """One line of ``trace list``: the trace and when its first record was made."""

    id: str
    tag: str | None
    start_timestamp: datetime

"""Cluster leases and the outbox: what lets several processes share one store.

A ``Lease`` names a job only one process may do at a time (``timers``, ``sensors``,
``chat:slack``…); its holder renews it before ``expires``, and any process may take it once it
has expired. An ``OutboxItem`` is something one process decided and another must deliver
(e.g. the result of an execution finished on B, for the chat connected on A); it is claimed
like an execution (holder + claim expiry) and removed once delivered.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.models.execution import isoformat, parse_ts, utcnow


def _ts(doc: dict[str, Any], name: str) -> datetime:
    value = parse_ts(doc.get(name))
    if value is None:
        raise ValueError(f"{name} is missing")
    return value


@dataclass(frozen=True)
class Lease:
    name: str
    holder: str
    expires: datetime
    acquired_at: datetime

    def to_doc(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "holder": self.holder,
            "expires": isoformat(self.expires),
            "acquired_at": isoformat(self.acquired_at),
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Lease:
        return cls(doc["name"], doc["holder"], _ts(doc, "expires"), _ts(doc, "acquired_at"))

    def is_live(self, now: datetime) -> bool:
        return self.expires >= now


@dataclass(frozen=True)
class OutboxItem:
    """``kind`` says what to do with ``ref`` (e.g. ``execution.completed`` + an execution id)
    for whoever owns ``channel`` (e.g. ``chat:slack``)."""

    id: str
    channel: str
    kind: str
    ref: str
    created_at: datetime

    @classmethod
    def new(cls, channel: str, kind: str, ref: str, *, key: str | None = None) -> OutboxItem:
        """``key`` makes the id deterministic, so a repeated put is stored once."""
        item_id = f"{channel}|{kind}|{key}" if key is not None else uuid.uuid4().hex
        return cls(item_id, channel, kind, ref, utcnow())

    def to_doc(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "channel": self.channel,
            "kind": self.kind,
            "ref": self.ref,
            "created_at": isoformat(self.created_at),
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> OutboxItem:
        return cls(doc["id"], doc["channel"], doc["kind"], doc["ref"], _ts(doc, "created_at"))

"""An in-process event bus with a bounded replay buffer, so a reconnecting client loses nothing.

Every event gets an id ``<boot>-<seq>``: ``seq`` grows by one per event, ``boot`` names this
process run. A client that resumes with ``Last-Event-ID`` gets every buffered event after it,
and the replay and the live subscription are taken in one synchronous step (no await between),
so no event falls between the two and none comes twice. What cannot be resumed, and is said
so: an id from another process run, or one older than the buffer (``capacity`` events).

Event payloads are built lazily, on first read: publishing costs nothing when nobody listens.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

Payload = dict[str, Any]


class StreamEvent:
    __slots__ = ("_data", "_make", "id", "name", "seq")

    def __init__(self, seq: int, event_id: str, name: str, make: Callable[[], Payload]) -> None:
        self.seq = seq
        self.id = event_id
        self.name = name
        self._make: Callable[[], Payload] | None = make
        self._data: Payload | None = None

    @property
    def data(self) -> Payload:
        if self._data is None:
            assert self._make is not None
            self._data, self._make = self._make(), None
        return self._data


@dataclass(eq=False)  # identity: a set of live subscriptions
class Subscription:
    """Live events for one client; ``overflowed`` when it read too slowly (it must reconnect
    and resume from its last event id, which the buffer still holds)."""

    queue: asyncio.Queue[StreamEvent]
    replay: list[StreamEvent] = field(default_factory=list)
    resumed: bool = True  # False: the asked-for id could not be resumed exactly
    overflowed: bool = False


class StreamBus:
    def __init__(self, capacity: int = 10_000, queue_size: int = 10_000) -> None:
        self.boot = secrets.token_hex(4)
        self._seq = 0
        self._buffer: deque[StreamEvent] = deque(maxlen=capacity)
        self._queue_size = queue_size
        self._subscribers: set[Subscription] = set()

    def publish(self, name: str, make: Callable[[], Payload]) -> StreamEvent:
        self._seq += 1
        event = StreamEvent(self._seq, f"{self.boot}-{self._seq}", name, make)
        self._buffer.append(event)
        for sub in list(self._subscribers):
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                sub.overflowed = True
                self._subscribers.discard(sub)
        return event

    @contextmanager
    def subscribe(self, last_event_id: str | None = None) -> Iterator[Subscription]:
        sub = Subscription(asyncio.Queue(self._queue_size))
        if last_event_id:
            sub.replay, sub.resumed = self._after(last_event_id)
        self._subscribers.add(sub)
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)

    def _after(self, last_event_id: str) -> tuple[list[StreamEvent], bool]:
        boot, _, seq_text = last_event_id.partition("-")
        if boot != self.boot or not seq_text.isdigit():
            return list(self._buffer), False
        seq = int(seq_text)
        oldest = self._buffer[0].seq if self._buffer else self._seq + 1
        exact = seq >= oldest - 1
        return [event for event in self._buffer if event.seq > seq], exact

    @property
    def last_seq(self) -> int:
        """Grows with every event: a cheap "has anything happened since?" for caches."""
        return self._seq

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

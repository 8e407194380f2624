"""The stream bus: ordered ids, lazy payloads, and a resume that loses and repeats nothing."""

from __future__ import annotations

from core.stream.bus import StreamBus


def test_events_are_numbered_in_order_and_built_only_when_read() -> None:
    bus = StreamBus(capacity=10)
    built: list[int] = []

    def make(n: int) -> dict[str, int]:
        built.append(n)
        return {"n": n}

    events = [bus.publish("e", lambda n=n: make(n)) for n in range(3)]
    assert [e.seq for e in events] == [1, 2, 3]
    assert all(e.id == f"{bus.boot}-{e.seq}" for e in events)
    assert built == []
    assert events[1].data == {"n": 1} and events[1].data == {"n": 1}
    assert built == [1]


async def test_a_resume_replays_exactly_what_came_after_the_last_id() -> None:
    bus = StreamBus(capacity=10)
    first = [bus.publish("e", lambda: {}) for _ in range(4)]
    with bus.subscribe(first[1].id) as sub:
        assert sub.resumed and [e.seq for e in sub.replay] == [3, 4]
        later = bus.publish("e", lambda: {})
        assert sub.queue.get_nowait() is later
    assert bus.subscriber_count == 0


async def test_an_id_older_than_the_buffer_or_from_another_run_is_not_exact() -> None:
    bus = StreamBus(capacity=3)
    events = [bus.publish("e", lambda: {}) for _ in range(6)]
    with bus.subscribe(events[0].id) as sub:
        assert not sub.resumed and [e.seq for e in sub.replay] == [4, 5, 6]
    with bus.subscribe(events[2].id) as sub:  # seq 3: the event right before the buffer
        assert sub.resumed and [e.seq for e in sub.replay] == [4, 5, 6]
    with bus.subscribe("otherboot-5") as sub:
        assert not sub.resumed


async def test_a_reader_that_falls_behind_is_cut_off_not_buffered_forever() -> None:
    bus = StreamBus(capacity=100, queue_size=2)
    with bus.subscribe() as sub:
        for _ in range(3):
            bus.publish("e", lambda: {})
        assert sub.overflowed and bus.subscriber_count == 0

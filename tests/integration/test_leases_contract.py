"""Leases and the outbox, run unchanged on every backend (see conftest.make_store)."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta

from core.executions.owner import OwnerId
from core.leases import LeaseKeeper
from core.models.lease import OutboxItem
from core.observe.metrics import REGISTRY
from core.store import Store

T0 = datetime(2026, 12, 6, 10, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def test_a_lease_has_one_holder_until_it_expires(store: Store) -> None:
    leases = store.leases
    assert await leases.acquire("timers", "a", at(10), at(0))
    assert not await leases.acquire("timers", "b", at(15), at(5))
    assert await leases.acquire("timers", "a", at(20), at(8)), "the holder renews"
    assert not await leases.acquire("timers", "b", at(25), at(19))
    assert await leases.acquire("timers", "b", at(31), at(21)), "taken over once expired"
    assert not await leases.acquire("timers", "a", at(32), at(22)), "the old holder lost it"
    [lease] = await leases.list()
    assert (lease.name, lease.holder, lease.expires, lease.acquired_at) == (
        "timers", "b", at(31), at(21)
    )  # fmt: skip


async def test_leases_are_independent_and_released_by_their_holder_only(store: Store) -> None:
    leases = store.leases
    assert await leases.acquire("chat:slack", "a", at(10), at(0))
    assert await leases.acquire("chat:discord", "b", at(10), at(0))
    assert not await leases.release("chat:slack", "b")
    assert await leases.release("chat:slack", "a")
    assert await leases.acquire("chat:slack", "b", at(11), at(1)), "free at once after release"
    assert [(x.name, x.holder) for x in await leases.list()] == [
        ("chat:discord", "b"), ("chat:slack", "b")
    ]  # fmt: skip


async def test_racing_claimers_get_one_lease_holder(store: Store) -> None:
    won = await asyncio.gather(
        *(store.leases.acquire("sensors", f"p{i}", at(10), at(0)) for i in range(12))
    )
    assert won.count(True) == 1


async def test_outbox_items_are_claimed_once_and_again_after_the_claim_expires(
    store: Store,
) -> None:
    outbox = store.outbox
    first = OutboxItem.new("chat:console", "execution.completed", "e1", key="e1")
    assert await outbox.put(first)
    assert not await outbox.put(first), "a repeated put is stored once"
    await outbox.put(OutboxItem.new("chat:console", "execution.completed", "e2", key="e2"))
    await outbox.put(OutboxItem.new("chat:slack", "execution.completed", "e3", key="e3"))
    assert await outbox.count() == 3 and await outbox.count("chat:console") == 2

    claimed = await outbox.claim("chat:console", "a", at(10), at(0))
    assert sorted(i.ref for i in claimed) == ["e1", "e2"]
    assert await outbox.claim("chat:console", "b", at(12), at(2)) == []
    assert await outbox.done(claimed[0].id)
    assert not await outbox.done(claimed[0].id)
    # a died holding e2: its claim runs out and b gets it
    again = await outbox.claim("chat:console", "b", at(30), at(11))
    assert [i.ref for i in again] == [claimed[1].ref]
    assert [i.ref for i in await outbox.claim("chat:slack", "b", at(30), at(11))] == ["e3"]


async def test_outbox_items_past_their_life_are_purged_and_counted_per_channel(
    store: Store,
) -> None:
    outbox = store.outbox
    old = [OutboxItem(f"old{i}", channel, "k", f"e{i}", at(-7200))
           for i, channel in enumerate(["chat:gone", "chat:gone", "chat:slack"])]  # fmt: skip
    for item in old:
        await outbox.put(item)
    await outbox.claim("chat:slack", "a", at(10), at(0))  # a claim does not keep it alive
    await outbox.put(OutboxItem("fresh", "chat:gone", "k", "e9", at(-60)))
    assert await outbox.purge(at(-3600)) == {"chat:gone": 2, "chat:slack": 1}
    assert await outbox.count() == 1
    assert [i.id for i in await outbox.claim("chat:gone", "b", at(10), at(0))] == ["fresh"]
    assert await outbox.purge(at(-3600)) == {}


async def test_racing_outbox_claimers_never_share_an_item(store: Store) -> None:
    for i in range(40):
        await store.outbox.put(OutboxItem.new("chat:x", "k", f"e{i}", key=str(i)))
    batches = await asyncio.gather(
        *(store.outbox.claim("chat:x", f"p{n}", at(10), at(0), limit=7) for n in range(6))
    )
    refs = [item.ref for batch in batches for item in batch]
    assert sorted(refs) == sorted(f"e{i}" for i in range(40))


async def test_a_keeper_takes_over_an_expired_lease_and_the_old_holder_stops(
    store: Store,
) -> None:
    clock = [at(0)]
    events: list[str] = []

    def keeper(holder: str) -> LeaseKeeper:
        async def gain() -> None:
            events.append(f"{holder} gained")

        async def loss() -> None:
            events.append(f"{holder} lost")

        # Holders on another host: only expiry can free their lease, never a pid check.
        return LeaseKeeper(store.leases, "timers", f"elsewhere-{holder}:1:1", ttl=2, renew=0.5,
                           now=lambda: clock[0], on_gain=gain, on_loss=loss)  # fmt: skip

    first, second = keeper("a"), keeper("b")
    await first.tick()
    await second.tick()
    assert (first.held, second.held) == (True, False)
    # /metrics: this process holds the lease (the gauge follows the holder's keeper).
    assert REGISTRY.get_sample_value("squall_lease_owned", {"lease": "timers"}) == 1
    clock[0] = at(1.5)
    await first.tick()  # renewed until 3.5
    clock[0] = at(3.0)
    await second.tick()
    assert not second.held, "still live"
    clock[0] = at(3.6)  # a stalled: no renewal since 1.5
    await second.tick()
    assert second.held
    await first.tick()
    assert not first.held
    assert events == ["a gained", "b gained", "a lost"]
    await second.stop()
    assert events[-1] == "b lost" and await store.leases.list() == []
    assert REGISTRY.get_sample_value("squall_lease_owned", {"lease": "timers"}) == 0


async def test_a_dead_local_holder_is_not_waited_for(store: Store) -> None:
    dead = OwnerId(socket.gethostname(), 999_999_999, "1")  # no such pid
    assert await store.leases.acquire("timers", str(dead), at(60), at(0))
    gained: list[bool] = []

    async def gain() -> None:
        gained.append(True)

    async def nothing() -> None:
        pass

    keeper = LeaseKeeper(store.leases, "timers", "me:1:1", ttl=2, renew=0.5,
                         now=lambda: at(1), on_gain=gain, on_loss=nothing)  # fmt: skip
    await keeper.tick()
    assert keeper.held and gained == [True]

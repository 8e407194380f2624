"""``trigger_instances.settle``: an instance's enforcements, executions and final status in one
write (SQLite) or in idempotent ordered steps (MongoDB), on every backend (conftest)."""

from __future__ import annotations

import asyncio

import pytest

from core.models import Execution, RuleEnforcement, TriggerInstance, TriggerInstanceStatus
from core.models.trigger_instance import execution_id_for
from core.store import ExecutionQuery, Store, StoreError
from core.store.base import Fired
from core.store.mongo import MongoStore

T = TriggerInstanceStatus


def fired_for(instance: TriggerInstance, rule: str, *, with_execution: bool = True) -> Fired:
    execution_id = execution_id_for(instance.id, rule)
    execution = None
    if with_execution:
        context = {"trigger_instance": {"id": instance.id}, "rule": {"ref": rule}}
        execution = Execution.request("core.noop", "noop", {}, context, execution_id=execution_id)
    enforcement = RuleEnforcement.new(
        rule, instance.id, execution_id=execution_id if with_execution else None,
        failure_reason=None if with_execution else "render failed",
    )  # fmt: skip
    return Fired(enforcement, execution)


async def stored(store: Store, instance: TriggerInstance) -> tuple[list[str], list[str]]:
    """(rule refs enforced, execution ids) stored for ``instance``."""
    enforced = await store.rule_enforcements.list(trigger_instance_id=instance.id)
    executions = await store.executions.list(ExecutionQuery(limit=0))
    mine = [e.id for e in executions if e.context["trigger_instance"]["id"] == instance.id]
    return sorted(e.rule_ref for e in enforced), sorted(mine)


async def test_settle_stores_everything_and_finishes_the_instance(store: Store) -> None:
    item = TriggerInstance.new("core.st2.webhook", {"n": 1})
    assert await store.trigger_instances.insert(item)
    fired = [
        fired_for(item, "p.a"),
        fired_for(item, "p.b"),
        fired_for(item, "p.c", with_execution=False),
    ]
    done = item.transition(T.PROCESSED)
    result = await store.trigger_instances.settle(done, expected_status=T.PENDING, fired=fired)
    assert result is not None
    assert sorted(e.id for e in result) == sorted(
        execution_id_for(item.id, r) for r in ("p.a", "p.b")
    )
    assert await stored(store, item) == (["p.a", "p.b", "p.c"], sorted(e.id for e in result))
    assert (await store.trigger_instances.get(item.id)) == done
    by_rule = {e.rule_ref: e for e in await store.rule_enforcements.list()}
    assert by_rule["p.a"].execution_id == execution_id_for(item.id, "p.a")
    assert by_rule["p.c"].failure_reason == "render failed"
    requested = await store.executions.get(execution_id_for(item.id, "p.a"))
    assert requested is not None and requested.status == "requested"


async def test_a_lost_cas_settles_nothing_twice(store: Store) -> None:
    item = TriggerInstance.new("core.st2.webhook", {"n": 2})
    await store.trigger_instances.insert(item)
    done = item.transition(T.PROCESSED)
    settle = store.trigger_instances.settle
    results = await asyncio.gather(
        *(settle(done, expected_status=T.PENDING, fired=[fired_for(item, "p.a")]) for _ in range(4))
    )
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert await stored(store, item) == (["p.a"], [execution_id_for(item.id, "p.a")])


async def test_a_repeated_settle_adds_only_what_is_missing(store: Store) -> None:
    """Recovery after a settle cut short (MongoDB: execution stored, enforcement not): the
    derived id finds the stored execution; the rule is enforced once, its execution once."""
    item = TriggerInstance.new("core.st2.webhook", {"n": 3})
    await store.trigger_instances.insert(item)
    first = fired_for(item, "p.a")
    assert first.execution is not None
    await store.executions.insert(first.execution)  # what a crash mid-settle leaves
    again = [fired_for(item, "p.a"), fired_for(item, "p.b")]
    done = item.transition(T.PROCESSED)
    result = await store.trigger_instances.settle(done, expected_status=T.PENDING, fired=again)
    assert result is not None
    assert [e.id for e in result] == [execution_id_for(item.id, "p.b")]
    assert await stored(store, item) == (
        ["p.a", "p.b"],
        sorted(execution_id_for(item.id, r) for r in ("p.a", "p.b")),
    )


async def test_a_rule_enforced_before_is_skipped_with_its_execution(store: Store) -> None:
    item = TriggerInstance.new("core.st2.webhook", {"n": 4})
    await store.trigger_instances.insert(item)
    await store.rule_enforcements.insert(RuleEnforcement.new("p.a", item.id))
    done = item.transition(T.PROCESSED)
    fired = [fired_for(item, "p.a"), fired_for(item, "p.b")]
    result = await store.trigger_instances.settle(done, expected_status=T.PENDING, fired=fired)
    assert result is not None
    ids = [e.id for e in result]
    assert execution_id_for(item.id, "p.b") in ids
    enforced, _ = await stored(store, item)
    assert enforced == ["p.a", "p.b"]


async def test_insert_settled_stores_the_instance_with_what_its_rules_did(store: Store) -> None:
    item = TriggerInstance.new("core.st2.webhook", {"n": 5})
    done = item.transition(T.PROCESSED)
    fired = [fired_for(item, "p.a"), fired_for(item, "p.c", with_execution=False)]
    result = await store.trigger_instances.insert_settled(done, fired)
    assert result is not None
    assert [e.id for e in result] == [execution_id_for(item.id, "p.a")]
    assert await stored(store, item) == (["p.a", "p.c"], [execution_id_for(item.id, "p.a")])
    assert (await store.trigger_instances.get(item.id)) == done
    assert await store.trigger_instances.list_unfinished() == []


async def test_insert_settled_refuses_a_duplicate_and_stores_nothing_of_it(store: Store) -> None:
    first = TriggerInstance.new("core.st2.webhook", {"n": 6}, dedupe_key="delivery-1")
    assert await store.trigger_instances.insert_settled(first.transition(T.PROCESSED), []) == ()
    again = TriggerInstance.new("core.st2.webhook", {"n": 6}, dedupe_key="delivery-1")
    result = await store.trigger_instances.insert_settled(
        again.transition(T.PROCESSED), [fired_for(again, "p.a")]
    )
    assert result is None
    assert await stored(store, again) == ([], [])
    assert await store.trigger_instances.get(again.id) is None


def test_as_received_is_the_instance_as_it_arrived() -> None:
    item = TriggerInstance.new("core.st2.webhook", {"n": 7})
    assert item.transition(T.PROCESSED).as_received() == item


async def test_insert_settled_whose_settle_fails_after_the_insert_says_stored(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MongoDB: the instance as it arrived is durable once inserted; a settle failing after it
    (a network error, a primary stepping down) leaves it ``pending`` for the sweep or
    ``recover``. insert_settled must then report it stored (a webhook answers 202), not raise:
    a raise answers 503 "not stored, retry", and the sender's retry would be processed a
    second time next to the pending instance. (SQLite: one transaction, no such step.)"""

    async def failing_settle(*args: object, **kwargs: object) -> None:
        raise StoreError("connection reset")

    monkeypatch.setattr(store.trigger_instances, "settle", failing_settle)
    item = TriggerInstance.new("core.st2.webhook", {"n": 8})
    result = await store.trigger_instances.insert_settled(
        item.transition(T.PROCESSED), [fired_for(item, "p.a")]
    )
    assert result is not None
    kept = await store.trigger_instances.get(item.id)
    assert kept is not None
    if isinstance(store, MongoStore):
        assert result == ()  # nothing to start here: the sweep evaluates it again
        assert [i.id for i in await store.trigger_instances.list_unfinished()] == [item.id]
    else:
        assert kept.status is T.PROCESSED

"""The workflow state repository, run on every backend (conftest): versioned incremental saves
with a compare-and-set head, and loads that see exactly the records of saves that won."""

from __future__ import annotations

import asyncio

from core.kv.crypto import generate_key
from core.models import Execution, ExecutionStatus
from core.store import ExecutionQuery, Store
from core.store.base import ChildCompletion, StateWrite, StepWrite, StepWritten, WorkflowRecord
from core.store.sealing import SECRETS

from .conftest import StoreFactory

S = ExecutionStatus


def rec(kind: str, key: str, **doc: object) -> WorkflowRecord:
    return WorkflowRecord(kind, key, dict(doc))


def as_dict(records: tuple[WorkflowRecord, ...]) -> dict[tuple[str, str], dict[str, object]]:
    return {(r.kind, r.key): r.doc for r in records}


async def test_create_then_incremental_saves_keep_the_newest_record_per_key(store: Store) -> None:
    repo = store.workflows
    assert await repo.create("wf1", {"status": "running"}, [rec("ctx", "0", value={"a": 1})])
    assert not await repo.create("wf1", {"status": "other"}, [])
    assert await repo.save("wf1", StateWrite(expected_version=1, head={"status": "running", "n": 1},
                           records=[rec("entry", "0", status="running")]))  # fmt: skip
    assert await repo.save("wf1", StateWrite(expected_version=2, head={"status": "succeeded"},
                           records=[rec("entry", "0", status="succeeded"),
                                    rec("entry", "1", status="running")]))  # fmt: skip
    loaded = await repo.load("wf1")
    assert loaded is not None and loaded.version == 3
    assert loaded.head == {"status": "succeeded"}
    assert as_dict(loaded.records) == {
        ("ctx", "0"): {"value": {"a": 1}},
        ("entry", "0"): {"status": "succeeded"},
        ("entry", "1"): {"status": "running"},
    }
    assert await repo.load("missing") is None


async def test_a_stale_version_loses_and_its_records_are_never_read(store: Store) -> None:
    repo = store.workflows
    await repo.create("wf", {"v": 1}, [])
    assert await repo.save(
        "wf", StateWrite(expected_version=1, head={"v": 2}, records=[rec("e", "0", by="a")])
    )
    assert not await repo.save("wf", StateWrite(expected_version=1, head={"v": "lost"},
                               records=[rec("e", "0", by="b"), rec("e", "9", by="b")]))  # fmt: skip
    loaded = await repo.load("wf")
    assert loaded is not None and loaded.version == 2 and loaded.head == {"v": 2}
    assert as_dict(loaded.records) == {("e", "0"): {"by": "a"}}


async def test_concurrent_saves_at_one_version_have_exactly_one_winner(store: Store) -> None:
    repo = store.workflows
    await repo.create("wf", {}, [])
    outcomes = await asyncio.gather(*(
        repo.save("wf", StateWrite(expected_version=1, head={"w": n}, records=[rec("e", "0", w=n)]))
        for n in range(8)
    ))  # fmt: skip
    assert outcomes.count(True) == 1
    winner = outcomes.index(True)
    loaded = await repo.load("wf")
    assert loaded is not None and loaded.head == {"w": winner}
    assert as_dict(loaded.records) == {("e", "0"): {"w": winner}}


async def test_keys_mongo_refuses_and_unicode_round_trip(store: Store) -> None:
    doc = {"value": {"a.b": 1, "$x": [None, True, 1.5], "ü": "ñ", "0": {"": ""}}}
    await store.workflows.create("wf", {"output": {"k.e.y": "$"}}, [rec("ctx", "0", **doc)])
    loaded = await store.workflows.load("wf")
    assert loaded is not None and loaded.head == {"output": {"k.e.y": "$"}}
    assert as_dict(loaded.records) == {("ctx", "0"): doc}


async def test_compact_drops_only_superseded_records(store: Store) -> None:
    repo = store.workflows
    await repo.create("wf", {}, [rec("e", "0", s="a"), rec("e", "1", s="a")])
    for version in range(1, 5):
        await repo.save("wf", StateWrite(expected_version=version, head={"n": version},
                        records=[rec("e", "0", s=f"v{version}")]))  # fmt: skip
    before = await repo.load("wf")
    assert await repo.compact("wf") == 4
    after = await repo.load("wf")
    assert before is not None and after is not None
    assert as_dict(after.records) == as_dict(before.records) == {
        ("e", "0"): {"s": "v4"}, ("e", "1"): {"s": "a"}}  # fmt: skip
    assert await repo.compact("wf") == 0


async def test_delete_removes_heads_and_records(store: Store) -> None:
    repo = store.workflows
    for name in ("a", "b", "c"):
        await repo.create(name, {}, [rec("ctx", "0", value=name)])
    assert await repo.delete(["a", "b", "zzz"]) == 2
    assert await repo.load("a") is None and await repo.load("b") is None
    assert await repo.load("c") is not None
    assert await repo.delete([]) == 0


async def test_state_survives_reopening(make_store: StoreFactory) -> None:
    first = make_store()
    await first.open()
    await first.workflows.create("wf", {"s": 1}, [rec("ctx", "0", value=1)])
    await first.workflows.save("wf", StateWrite(expected_version=1, head={"s": 2}, records=[]))
    await first.close()
    second = make_store()
    await second.open()
    loaded = await second.workflows.load("wf")
    assert loaded is not None and loaded.version == 2 and loaded.head == {"s": 2}
    assert as_dict(loaded.records) == {("ctx", "0"): {"value": 1}}


async def test_sealed_state_hides_secrets_at_rest_and_loads_them_back(store: Store) -> None:
    """Every backend: with the datastore key set, a head naming secrets and records holding
    them are stored masked (the raw repository shows no secret) and load back whole."""
    store.seal_with(generate_key())
    secret = "hunter2STATESECRET"
    repo = store.workflows
    head = {"conductor": {"status": "running"}, SECRETS: [secret]}
    assert await repo.create("wf", head, [rec("ctx", "0", value={"pw": secret}),
                                          rec("ctx", "1", value={"plain": "ok"})])  # fmt: skip
    assert await repo.save("wf", StateWrite(expected_version=1, head=head,
                           records=[rec("entry", "0", result=f"echo {secret}")]))  # fmt: skip
    raw = await repo.inner.load("wf")  # type: ignore[attr-defined]
    assert raw is not None and secret not in repr(raw)
    assert as_dict(raw.records)[("ctx", "1")] == {"value": {"plain": "ok"}}  # left as it was
    loaded = await repo.load("wf")
    assert loaded is not None and loaded.head == head
    assert as_dict(loaded.records) == {
        ("ctx", "0"): {"value": {"pw": secret}},
        ("ctx", "1"): {"value": {"plain": "ok"}},
        ("entry", "0"): {"result": f"echo {secret}"},
    }


def child(workflow_id: str, child_id: str, **parameters: object) -> Execution:
    return Execution.request("core.noop", "noop", dict(parameters), {"user": "u"},
                             parent=workflow_id, execution_id=child_id)  # fmt: skip


async def test_a_step_saves_the_state_and_inserts_its_children(store: Store) -> None:
    """``save_step``: the state moves and the children it requests are stored; one already
    stored (requested before a crash) is left as it is and not reported inserted; a step that
    loses the compare-and-set writes neither state nor children."""
    repo = store.workflows
    first = [child("wf", "c1", n=1), child("wf", "c2", n=2)]
    running = [rec("e", "0", s="running")]
    created = await repo.save_step("wf", StepWrite(expected_version=0, head={"v": 1},
                                   records=running, children=first))  # fmt: skip
    assert created == StepWritten(True, inserted=frozenset({"c1", "c2"}))
    again = [child("wf", "c2", n=99), child("wf", "c3", n=3)]
    written = await repo.save_step("wf", StepWrite(expected_version=1, head={"v": 2}, records=[],
                                   children=again))  # fmt: skip
    assert written.saved and written.inserted == {"c3"}
    stored = await store.executions.get("c2")
    assert stored is not None and stored.parameters == {"n": 2} and stored.parent == "wf"
    lost = await repo.save_step("wf", StepWrite(expected_version=1, head={"v": "lost"},
                                records=[rec("e", "9", s="x")],
                                children=[child("wf", "c4")]))  # fmt: skip
    assert lost == StepWritten(False)
    assert await store.executions.get("c4") is None
    assert (await repo.save_step("other", StepWrite(expected_version=0, head={}, records=[],
                                 children=[]))).saved  # fmt: skip
    assert not (await repo.save_step("other", StepWrite(expected_version=0, head={}, records=[],
                                     children=[child("other", "c5")]))).saved  # fmt: skip
    assert await store.executions.get("c5") is None
    loaded = await repo.load("wf")
    assert loaded is not None and loaded.version == 2 and loaded.head == {"v": 2}
    assert as_dict(loaded.records) == {("e", "0"): {"s": "running"}}
    assert {c.id for c in await store.executions.list(ExecutionQuery(parent="wf"))} == {
        "c1", "c2", "c3"}  # fmt: skip


async def test_a_step_writes_the_tasks_it_completes_first_and_only_then_its_state(
    store: Store,
) -> None:
    """A step carrying tasks' ends: each is a compare-and-set on its status; all won, the
    state and the new children follow; one lost (a cancel got there first), the state is not
    saved and no child is requested, while the ends that won stay written."""
    repo = store.workflows
    a, b = child("wf", "a").transition(S.RUNNING), child("wf", "b").transition(S.RUNNING)
    assert (await repo.save_step("wf", StepWrite(expected_version=0, head={"v": 1}, records=[],
                                 children=[a, b]))).saved  # fmt: skip
    done_a = a.transition(S.SUCCEEDED, result={"n": 1})
    written = await repo.save_step("wf", StepWrite(
        expected_version=1, head={"v": 2}, records=[rec("e", "0", s="succeeded")],
        children=[child("wf", "next")], completed=[ChildCompletion(done_a, S.RUNNING)],
    ))  # fmt: skip
    assert written == StepWritten(True, frozenset({"a"}), frozenset({"next"}))
    stored = await store.executions.get("a")
    assert stored is not None and stored.status is S.SUCCEEDED and stored.result == {"n": 1}
    canceling = b.transition(S.CANCELING)
    assert await store.executions.replace(canceling, expected_status=S.RUNNING)
    late = a.transition(S.FAILED)  # "a" already succeeded: this CAS loses too
    written = await repo.save_step("wf", StepWrite(
        expected_version=2, head={"v": 3}, records=[rec("e", "1", s="x")],
        children=[child("wf", "never")],
        completed=[ChildCompletion(b.transition(S.SUCCEEDED), S.RUNNING),
                   ChildCompletion(late, S.RUNNING)],
    ))  # fmt: skip
    assert written == StepWritten(False)
    assert await store.executions.get("never") is None
    b_now, a_now = await store.executions.get("b"), await store.executions.get("a")
    assert b_now is not None and b_now.status is S.CANCELING
    assert a_now is not None and a_now.status is S.SUCCEEDED
    loaded = await repo.load("wf")
    assert loaded is not None and loaded.version == 2 and loaded.head == {"v": 2}


async def test_a_sealed_step_seals_its_children_too(store: Store) -> None:
    store.seal_with(generate_key())
    secret = "hunter2CHILDSECRET"
    secret_child = child("wf", "c1", password=secret).with_changes(secrets=(secret,))
    head = {"conductor": {}, SECRETS: [secret]}
    written = await store.workflows.save_step("wf", StepWrite(expected_version=0, head=head,
                                              records=[], children=[secret_child]))  # fmt: skip
    assert written.inserted == {"c1"}
    raw = await store.executions.inner.get("c1")  # type: ignore[attr-defined]
    assert raw is not None and secret not in repr(raw.to_doc())
    opened = await store.executions.get("c1")
    assert opened is not None and opened.parameters == {"password": secret}

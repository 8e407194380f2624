"""The workflow engine end to end: real SQLite, real subprocess tasks, the real service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Engine, open_engine
from bot.settings import load_settings
from core.models import Execution, ExecutionStatus
from core.store import ExecutionQuery
from tests.conftest import FIXTURES

S = ExecutionStatus
PACK = FIXTURES / "workflow_pack"
BROKEN = FIXTURES / "workflow_broken"


def workflow_config(directory: Path, extra: str = "") -> Path:
    path = directory / "squall.yaml"
    path.write_text(
        "store: {url: 'sqlite:///var/squall.db'}\n"
        f"packs: {{paths: ['{PACK}', '{BROKEN}']}}\n"
        "http: {enabled: false}\n"
        "executions: {max_concurrency: 8, python_fork_server: false,"
        " shutdown_grace_seconds: 0.5}\n" + extra
    )
    return path


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with open_engine(load_settings(workflow_config(tmp_path))) as opened:
        yield opened


async def run(engine: Engine, ref: str, timeout: float = 20, **params: object) -> Execution:
    requested = await engine.executions.request(ref, params, context={"user": "alice"})
    return await engine.executions.wait(requested.id, timeout=timeout)


async def children(engine: Engine, parent: str) -> list[Execution]:
    found = await engine.store.executions.list(ExecutionQuery(parent=parent, limit=1000))
    return sorted(found, key=lambda e: e.start_timestamp)


async def wait_for(
    engine: Engine, execution_id: str, *statuses: S, timeout: float = 10
) -> Execution:
    async def poll() -> Execution:
        while True:
            current = await engine.store.executions.get(execution_id)
            if current is not None and current.status in statuses:
                return current
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(poll(), timeout)


async def task_execution(engine: Engine, parent: str, task: str, timeout: float = 10) -> Execution:
    async def poll() -> Execution:
        while True:
            for child in await children(engine, parent):
                if child.context["orquesta"]["task_name"] == task:
                    return child
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(poll(), timeout)


async def test_tasks_are_child_executions_and_data_flows_to_the_output(engine: Engine) -> None:
    done = await run(engine, "flows.chain", who="ann")
    assert done.status is S.SUCCEEDED
    assert done.result == {
        "output": {"greeting": "hello ann", "loud": "HELLO ANN", "user": "alice"}
    }
    tasks = await children(engine, done.id)
    assert [t.context["orquesta"]["task_name"] for t in tasks] == ["greet", "shout", "done"]
    for task in tasks:
        assert task.parent == done.id and task.status is S.SUCCEEDED
        assert task.context["parent"]["execution_id"] == done.id
        assert task.context["orquesta"]["route"] == 0
        assert task.context["user"] == "alice"
    assert tasks[1].parameters["cmd"] == "echo HELLO ANN"  # rendered by the workflow, as in st2
    assert done.end_timestamp is not None and done.end_timestamp >= tasks[-1].end_timestamp


async def test_with_items_respects_concurrency_and_keeps_item_order(engine: Engine) -> None:
    names = [f"n{i}" for i in range(6)]
    done = await run(engine, "flows.items", names=names, concurrency=2)
    assert done.status is S.SUCCEEDED
    assert done.result == {"output": {"said": [f"item-{n}" for n in names]}}
    tasks = await children(engine, done.id)
    assert sorted(t.context["orquesta"]["item_id"] for t in tasks) == list(range(6))
    events = sorted(
        [(t.start_timestamp, 1) for t in tasks] + [(t.end_timestamp, -1) for t in tasks]
    )
    running = peak = 0
    for _, change in events:
        running += change
        peak = max(peak, running)
    assert peak <= 2


async def test_a_failure_runs_the_remediation_then_fails_with_errors(engine: Engine) -> None:
    done = await run(engine, "flows.remediate")
    assert done.status is S.FAILED
    assert done.result is not None and done.result["output"] == {"reason": "disk full"}
    errors = done.result["errors"]
    assert errors[0]["task_id"] == "deploy" and errors[0]["result"]["return_code"] == 3
    assert errors[1] == {"type": "error", "message": "Execution failed. See result for details.",
                         "task_id": "fail"}  # fmt: skip
    by_task = {t.context["orquesta"]["task_name"]: t for t in await children(engine, done.id)}
    assert by_task["rollback"].status is S.SUCCEEDED  # ran although the workflow had failed
    assert done.end_timestamp is not None
    assert by_task["rollback"].end_timestamp is not None
    assert done.end_timestamp >= by_task["rollback"].end_timestamp


async def test_a_task_can_be_a_workflow(engine: Engine) -> None:
    done = await run(engine, "flows.nested")
    assert done.status is S.SUCCEEDED
    inner = (await children(engine, done.id))[0]
    assert inner.runner_type == "orquesta" and inner.status is S.SUCCEEDED
    assert done.result == {"output": {"inner": inner.result["output"]}}  # type: ignore[index]
    grandchildren = await children(engine, inner.id)
    assert len(grandchildren) == 3
    assert all(g.context["parent"]["root"] == done.id for g in grandchildren)


async def test_a_broken_workflow_fails_at_start_naming_every_problem(engine: Engine) -> None:
    done = await run(engine, "badflows.broken")
    assert done.status is S.FAILED
    errors = done.result["errors"]  # type: ignore[index]
    # st2's shape: kind, message and where, sorted by kind then schema path.
    assert [(e["type"], e["schema_path"]) for e in errors] == sorted(
        (e["type"], e["schema_path"]) for e in errors
    )
    found = {(e["type"], e["spec_path"], e["message"]) for e in errors}
    assert ("semantic", "tasks.task1.next[0].do", 'The task "nowhere" is not defined.') in found
    message = 'The action "badflows.nonexistent" is not registered in the database.'
    assert ("content", "tasks.task1.action", message) in found
    unexpected = 'Action "core.local" has unexpected input "nope".'
    assert ("content", "tasks.task2.input.nope", unexpected) in found
    assert await children(engine, done.id) == []


async def test_retry_runs_the_task_again_as_new_executions(engine: Engine, tmp_path: Path) -> None:
    done = await run(engine, "flows.retry", marker=str(tmp_path / "marker"))
    assert done.status is S.SUCCEEDED
    tries = await children(engine, done.id)
    assert [t.status for t in tries] == [S.FAILED, S.FAILED, S.SUCCEEDED]
    assert len({t.id for t in tries}) == 3
    assert (tmp_path / "marker").read_text().count("x") == 3


async def test_a_task_delay_holds_the_task_back(engine: Engine) -> None:
    done = await run(engine, "flows.delay")
    assert done.status is S.SUCCEEDED
    [later] = await children(engine, done.id)
    assert (later.start_timestamp - done.start_timestamp).total_seconds() >= 1.0


async def test_pause_lets_the_running_task_finish_and_starts_nothing_new(engine: Engine) -> None:
    service = engine.executions
    workflow = await service.request("flows.slow", {"seconds": 0.6})
    first = await task_execution(engine, workflow.id, "first")
    await wait_for(engine, first.id, S.RUNNING)
    paused = await service.pause(workflow.id)
    assert paused.status in (S.PAUSING, S.PAUSED)
    await wait_for(engine, workflow.id, S.PAUSED)
    assert (await wait_for(engine, first.id, S.SUCCEEDED)).status is S.SUCCEEDED
    await asyncio.sleep(0.3)
    assert len(await children(engine, workflow.id)) == 1  # "second" waits
    await service.resume(workflow.id)
    done = await service.wait(workflow.id, timeout=10)
    assert done.status is S.SUCCEEDED and done.result == {"output": {"done": True}}
    assert [c.status for c in await children(engine, workflow.id)] == [S.SUCCEEDED] * 2
    statuses = [c.status for c in done.log]
    assert statuses.index(S.PAUSING) < statuses.index(S.PAUSED) < statuses.index(S.RESUMING)


async def test_cancel_stops_the_running_task_and_the_workflow(engine: Engine) -> None:
    service = engine.executions
    workflow = await service.request("flows.slow", {"seconds": 30})
    first = await task_execution(engine, workflow.id, "first")
    await wait_for(engine, first.id, S.RUNNING)
    await service.cancel(workflow.id)
    done = await service.wait(workflow.id, timeout=10)
    assert done.status is S.CANCELED
    assert (await service.get(first.id)).status is S.CANCELED  # type: ignore[union-attr]
    assert len(await children(engine, workflow.id)) == 1


async def test_cancel_reaches_a_nested_workflow(engine: Engine) -> None:
    service = engine.executions
    outer = await service.request("flows.nested_slow", {})
    inner = await task_execution(engine, outer.id, "inner")
    grandchild = await task_execution(engine, inner.id, "first")
    await wait_for(engine, grandchild.id, S.RUNNING)
    await service.cancel(outer.id)
    assert (await service.wait(outer.id, timeout=10)).status is S.CANCELED
    assert (await service.wait(inner.id, timeout=10)).status is S.CANCELED
    assert (await service.wait(grandchild.id, timeout=10)).status is S.CANCELED


async def test_pause_and_resume_reach_a_nested_workflow(engine: Engine) -> None:
    service = engine.executions
    outer = await service.request("flows.nested_slow", {})
    inner = await task_execution(engine, outer.id, "inner")
    grandchild = await task_execution(engine, inner.id, "first")
    await wait_for(engine, grandchild.id, S.RUNNING)
    await service.pause(outer.id)
    await wait_for(engine, inner.id, S.PAUSED, S.PAUSING)
    await service.resume(outer.id)
    await wait_for(engine, outer.id, S.RUNNING)
    await service.cancel(outer.id)
    assert (await service.wait(outer.id, timeout=10)).status is S.CANCELED


async def test_pause_refuses_what_is_not_a_workflow(engine: Engine) -> None:
    from core.executions.service import ExecutionError

    plain = await engine.executions.request("core.noop", {})
    with pytest.raises(ExecutionError, match="not a workflow"):
        await engine.executions.pause(plain.id)


async def test_rerun_runs_the_failed_task_again_in_the_same_execution(
    engine: Engine, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    done = await run(engine, "flows.gated", gate=str(gate))
    assert done.status is S.FAILED
    first_tasks = await children(engine, done.id)
    assert [t.context["orquesta"]["task_name"] for t in first_tasks] == ["prepare", "check"]
    gate.write_text("open")
    revived = await engine.workflows.rerun(done.id)
    assert revived.status in (S.RESUMING, S.RUNNING)
    again = await engine.executions.wait(done.id, timeout=10)
    assert again.status is S.SUCCEEDED and again.result == {"output": {"checked": "open"}}
    tasks = await children(engine, done.id)
    names = [t.context["orquesta"]["task_name"] for t in tasks]
    assert names == ["prepare", "check", "check", "finish"]  # prepare did not run again
    statuses = [c.status for c in again.log]
    assert statuses.index(S.FAILED) < statuses.index(S.RESUMING) < len(statuses) - 1


async def test_rerun_of_named_tasks_and_items_without_reset(engine: Engine, tmp_path: Path) -> None:
    done = await run(engine, "flows.items_gate", gate=str(tmp_path / "gate"))
    assert done.status is S.FAILED
    before = await children(engine, done.id)
    assert sorted(t.status for t in before).count(S.FAILED) == 1
    (tmp_path / "gate").write_text("open")
    await engine.workflows.rerun(done.id, tasks=["each"], no_reset=["each"])
    again = await engine.executions.wait(done.id, timeout=10)
    assert again.status is S.SUCCEEDED
    assert again.result == {"output": {"said": ["a", "b", "c"]}}
    rerun_items = (await children(engine, done.id))[len(before) :]
    assert [t.context["orquesta"]["item_id"] for t in rerun_items] == [1]  # only the failed one


async def test_rerun_refuses_a_running_workflow_and_unknown_tasks(engine: Engine) -> None:
    from core.executions.service import ExecutionError

    running = await engine.executions.request("flows.slow", {"seconds": 5})
    await wait_for(engine, running.id, S.RUNNING)
    with pytest.raises(ExecutionError, match="only a completed workflow can be rerun"):
        await engine.workflows.rerun(running.id)
    await engine.executions.cancel(running.id)
    await engine.executions.wait(running.id, timeout=10)
    with pytest.raises(ExecutionError, match="never ran: nope"):
        await engine.workflows.rerun(running.id, tasks=["nope"])


async def test_cancel_stops_items_in_flight_and_starts_no_more(engine: Engine) -> None:
    service = engine.executions
    workflow = await service.request("flows.items_slow", {})

    async def two_running() -> list[Execution]:
        while True:
            found = [c for c in await children(engine, workflow.id) if c.status is S.RUNNING]
            if len(found) == 2:
                return found
            await asyncio.sleep(0.02)

    running = await asyncio.wait_for(two_running(), 10)
    await service.cancel(workflow.id)
    done = await service.wait(workflow.id, timeout=15)
    assert done.status is S.CANCELED
    tasks = await children(engine, workflow.id)
    assert {t.id for t in tasks} == {t.id for t in running}  # items 3..5 never started
    assert all(t.status is S.CANCELED for t in tasks)


async def test_a_task_abandoned_behind_a_live_workflows_back_still_reaches_it(
    engine: Engine,
) -> None:
    # The cluster's takeover sweep abandons a dead process's task straight in the store; a
    # workflow this engine took up while that task still looked alive never heard of it and
    # stayed running forever (seen in test_cluster under load).
    flow = await engine.executions.request("flows.slow", {"seconds": 30})

    async def running_task() -> Execution:
        while True:
            query = ExecutionQuery(parent=flow.id, statuses=(ExecutionStatus.RUNNING,))
            found = await engine.store.executions.list(query)
            if found and found[0].pgid:
                return found[0]
            await asyncio.sleep(0.02)

    task = await asyncio.wait_for(running_task(), timeout=20)
    abandoned = task.transition(ExecutionStatus.ABANDONED, result={"error": "its process died"})
    assert await engine.store.executions.replace(abandoned, expected_status=task.status)
    await engine.workflows.on_abandoned_child(abandoned)
    done = await engine.executions.wait(flow.id, timeout=20)
    assert done.status is ExecutionStatus.FAILED


async def test_a_task_refused_at_request_time_fails_the_workflow(engine: Engine) -> None:
    """The refusal is the step's only news: the workflow still ends, with the reason (it
    once stayed running, its status mirror put off to a step that then wrote nothing)."""
    done = await run(engine, "flows.refused", timeout=10)
    assert done.status is S.FAILED
    assert "max_pause" in str(done.result)
    assert await children(engine, done.id) == []

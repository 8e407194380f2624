"""What a workflow step writes: a task's end goes into the transaction of the step it triggers
(with the state and the next task's request), and when that step cannot be written the end is
written the ordinary way and the workflow, read again from the store, still finishes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import Engine, open_engine
from bot.settings import load_settings
from core.executions.changes import ExecutionChanges
from core.models import Execution, ExecutionStatus
from core.store import ExecutionQuery, StoreError
from core.store.base import StepWrite, StepWritten
from core.store.sqlite import SqliteExecutions
from core.store.sqlite_workflows import SqliteWorkflows
from core.workflows.shell import WorkflowShell
from tests.integration.test_workflow_engine import run, workflow_config

S = ExecutionStatus


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with open_engine(load_settings(workflow_config(tmp_path))) as opened:
        yield opened


class StepSpy:
    """Wraps ``SqliteWorkflows.save_step`` to record the ends each step carried; with
    ``fail_first`` the first step carrying an end raises as a store outage would."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, fail_first: bool = False) -> None:
        self.ends: list[str] = []
        self.failed: list[str] = []
        self._fail = fail_first
        inner = SqliteWorkflows.save_step
        spy = self

        async def save_step(
            repo: SqliteWorkflows, workflow_id: str, step: StepWrite
        ) -> StepWritten:
            if step.completed and spy._fail:
                spy._fail = False
                spy.failed += [c.execution.id for c in step.completed]
                raise StoreError("disk on fire (test)")
            written = await inner(repo, workflow_id, step)
            spy.ends += sorted(written.completed)
            return written

        monkeypatch.setattr(SqliteWorkflows, "save_step", save_step)


async def tasks_of(engine: Engine, workflow: Execution) -> list[Execution]:
    return await engine.store.executions.list(ExecutionQuery(parent=workflow.id))


async def test_each_task_of_a_chain_ends_in_the_step_it_triggers(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = StepSpy(monkeypatch)
    done = await run(engine, "flows.chain", who="ann")
    assert done.status is S.SUCCEEDED, done.result
    assert done.result == {"output": {"greeting": "hello ann", "loud": "HELLO ANN",
                                      "user": "alice"}}  # fmt: skip
    tasks = await tasks_of(engine, done)
    assert len(tasks) == 3 and all(t.status is S.SUCCEEDED for t in tasks)
    # One task at a time, nothing else in flight: every end rode in its step's transaction.
    assert sorted(spy.ends) == sorted(t.id for t in tasks)


async def test_a_step_that_cannot_be_written_leaves_the_end_to_its_runner(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = StepSpy(monkeypatch, fail_first=True)
    done = await run(engine, "flows.chain", who="bob")
    assert done.status is S.SUCCEEDED, done.result
    assert done.result["output"]["loud"] == "HELLO BOB"  # type: ignore[index]
    tasks = {t.id: t for t in await tasks_of(engine, done)}
    assert len(tasks) == 3 and all(t.status is S.SUCCEEDED for t in tasks.values())
    (failed,) = spy.failed
    assert failed in tasks and failed not in spy.ends  # written by its runner instead
    names = sorted(t.context["orquesta"]["task_name"] for t in tasks.values())
    assert names == ["done", "greet", "shout"]  # each task ran once


async def test_a_chain_starts_no_listener_task_for_its_tasks(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The change listeners (this workflow engine, action chains, the chat relay) filter
    synchronously: a workflow task's running and its end (which its step already applied)
    are old news to all of them, so none of them costs a task."""
    called: list[tuple[str, str]] = []
    inner = ExecutionChanges._call_listener

    async def counting(listener: Any, execution: Execution) -> None:
        called.append((getattr(listener, "__qualname__", "?"), execution.id))
        await inner(listener, execution)

    monkeypatch.setattr(ExecutionChanges, "_call_listener", staticmethod(counting))
    done = await run(engine, "flows.chain", who="cy")
    assert done.status is S.SUCCEEDED, done.result
    tasks = {t.id for t in await tasks_of(engine, done)}
    assert len(tasks) == 3
    assert [name for name, execution_id in called if execution_id in tasks] == []


async def test_a_chain_task_takes_its_step_itself(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no step under way, a task's end is stepped in the task that ran it: no drainer
    task per workflow task (the chain's tasks still end in their steps' transactions)."""
    spawned: list[str] = []
    inner = WorkflowShell._spawn

    def counting(shell: WorkflowShell, work: Any, name: str) -> Any:
        spawned.append(name)
        return inner(shell, work, name)

    monkeypatch.setattr(WorkflowShell, "_spawn", counting)
    spy = StepSpy(monkeypatch)
    done = await run(engine, "flows.chain", who="dee")
    assert done.status is S.SUCCEEDED, done.result
    tasks = await tasks_of(engine, done)
    assert sorted(spy.ends) == sorted(t.id for t in tasks)
    assert [name for name in spawned if name == f"workflow-{done.id}"] == []


async def test_a_core_noop_task_is_one_write_its_end_in_the_step(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task whose runner runs in memory (core.noop) stores no ``running``: requested by one
    step, it ends in the next one's transaction (a CAS on the ``requested`` the store holds),
    so a chain of such tasks costs one commit per task. Observers and the stored log still
    see ``running``. Tasks with a process (core.local) keep their stored ``running``."""
    replaced: list[tuple[str, str]] = []
    inner = SqliteExecutions.replace

    async def replace(repo: SqliteExecutions, execution: Execution, **kw: Any) -> bool:
        replaced.append((execution.action_ref, str(execution.status)))
        return await inner(repo, execution, **kw)

    monkeypatch.setattr(SqliteExecutions, "replace", replace)
    spy = StepSpy(monkeypatch)
    done = await run(engine, "flows.chain", who="eve")
    assert done.status is S.SUCCEEDED, done.result
    tasks = {t.action_ref: t for t in await tasks_of(engine, done)}
    noop = tasks["core.noop"]
    assert noop.status is S.SUCCEEDED
    assert [c.status for c in noop.log] == [S.REQUESTED, S.RUNNING, S.SUCCEEDED]
    assert noop.id in spy.ends  # its end rode in the step it triggered
    assert ("core.noop", "running") not in replaced
    assert ("core.local", "running") in replaced


async def test_parallel_tasks_ends_are_heard_without_a_listener_task(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Items running side by side end the ordinary way (their own write); the workflow, loaded
    here, hears each end at once (``at_once``: no listener task) and still applies them all."""
    called: list[str] = []
    inner = ExecutionChanges._call_listener

    async def counting(listener: Any, execution: Execution) -> None:
        called.append(execution.id)
        await inner(listener, execution)

    monkeypatch.setattr(ExecutionChanges, "_call_listener", staticmethod(counting))
    names = [f"n{i}" for i in range(6)]
    done = await run(engine, "flows.items", names=names, concurrency=3)
    assert done.status is S.SUCCEEDED, done.result
    assert done.result == {"output": {"said": [f"item-{n}" for n in names]}}
    tasks = {t.id for t in await tasks_of(engine, done)}
    assert len(tasks) == 6
    assert [execution_id for execution_id in called if execution_id in tasks] == []

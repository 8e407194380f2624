"""The ``action-chain`` runner end to end: st2's semantics on a real engine and store.

Each task is a child execution (ids derived from the chain and the step); results, publish,
``on-success``/``on-failure``, vars, notify per task and ``skip_notify``, the result shape,
cancel, pause/resume, and recovery of a chain whose process died.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import Engine, open_engine
from bot.settings import load_settings
from core.chains.engine import chain_child_id
from core.models import Execution, ExecutionStatus, utcnow
from core.packs.loader import load_packs
from core.store.base import ExecutionQuery
from tests.conftest import wait_execution

S = ExecutionStatus
ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "tests" / "fixtures" / "st2packs" / "chains"
WAIT = 30.0


def config(tmp_path: Path) -> Path:
    path = tmp_path / "squall.yaml"
    path.write_text(
        "store: {url: 'sqlite:///var/squall.db'}\n"
        f"packs: {{paths: ['{PACK}']}}\n"
        "http: {enabled: false}\n"
        "executions: {max_concurrency: 8, python_fork_server: false,"
        " shutdown_grace_seconds: 0.5}\n"
        "routes:\n  ops: {adapter: console, channel: ops}\n"
    )
    return path


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    async with open_engine(load_settings(config(tmp_path))) as opened:
        yield opened


async def run(engine: Engine, ref: str, **params: object) -> Execution:
    requested = await engine.executions.request(ref, params, context={"user": "alice"})
    return await engine.executions.wait(requested.id, timeout=WAIT)


async def children(engine: Engine, chain_id: str) -> list[Execution]:
    found = await engine.store.executions.list(ExecutionQuery(parent=chain_id, limit=100))
    return sorted(found, key=lambda e: e.context["chain"]["step"])


async def test_publish_on_failure_vars_and_earlier_results(engine: Engine) -> None:
    done = await run(engine, "chains.flow", who="ann")
    assert done.status is S.SUCCEEDED, done.result
    result = done.result or {}
    tasks = result["tasks"]
    assert [(t["name"], t["state"]) for t in tasks] == [
        ("greet", "succeeded"),
        ("fail_step", "failed"),
        ("recover", "succeeded"),
    ]
    kids = await children(engine, done.id)
    assert [k.id for k in kids] == [chain_child_id(done.id, i) for i in range(3)]
    assert [t["execution_id"] for t in tasks] == [k.id for k in kids]
    assert all(k.parent == done.id for k in kids)
    assert tasks[0]["result"]["stdout"] == "hi ann"
    assert set(tasks[0]) == {
        "id", "name", "execution_id", "liveaction_id", "workflow", "created_at", "updated_at",
        "state", "result",
    }  # fmt: skip
    assert result["published"] == {
        "said": "hi ann",
        "final": "recovered after hi ann / 3 / True",
    }
    assert "error" not in result


async def test_tasks_inherit_the_chains_trace_and_chat_place(engine: Engine) -> None:
    """As a workflow's tasks do (and st2 files a chain's children under its trace): the trace
    context, who asked and where in chat the chain was started."""
    place = {"adapter": "console", "channel": "ops"}
    requested = await engine.executions.request(
        "chains.flow", {"who": "cy"},
        context={"user": "alice", "source_channel": "ops", "chat": place,
                 "action_alias_ref": "chains.run_flow"},
    )  # fmt: skip
    done = await engine.executions.wait(requested.id, timeout=WAIT)
    kids = await children(engine, done.id)
    assert kids
    for kid in kids:
        assert kid.context["trace_context"] == done.context["trace_context"]
        assert kid.context["source_channel"] == "ops"
        assert kid.context["chat"] == place
        assert kid.context["action_alias_ref"] == "chains.run_flow"
        assert kid.context["user"] == "alice"


async def test_notify_per_task_the_chains_otherwise_and_skip_notify(engine: Engine) -> None:
    done = await run(engine, "chains.flow", who="bob")
    greet, fail_step, recover = await children(engine, done.id)
    chain_notify = {"on-complete": {"message": "chain task done", "routes": ["ops"]}}
    assert greet.context["notify"] == chain_notify  # the chain's own notify (as st2)
    assert fail_step.context["notify"] == {
        "on-failure": {"message": "the failing step failed", "routes": ["ops"]}
    }
    assert recover.context["notify"] == chain_notify
    quiet = await run(engine, "chains.quiet")
    (only,) = await children(engine, quiet.id)
    assert only.context["notify"] == {}  # skip_notify
    # display_published: false keeps the published variables out of the result.
    assert quiet.status is S.SUCCEEDED and "published" not in (quiet.result or {})
    # The notifications really went out: one notifytrigger per notified task section, and the
    # chain's own (its action has a notify).
    async with asyncio.timeout(WAIT):
        while True:
            found = await engine.store.trigger_instances.list()
            notified = [i for i in found if i.trigger == "core.st2.generic.notifytrigger"]
            if len(notified) >= 4:
                break
            await asyncio.sleep(0.05)
    sent = sorted(i.payload["execution_id"] for i in notified)
    assert sent == sorted([greet.id, fail_step.id, recover.id, done.id])


async def test_the_chain_ends_with_its_last_tasks_status(engine: Engine) -> None:
    done = await run(engine, "chains.ends_failed")
    assert done.status is S.FAILED
    assert [t["name"] for t in (done.result or {})["tasks"]] == ["first"]


async def test_a_parameter_that_cannot_render_fails_the_chain_naming_it(engine: Engine) -> None:
    done = await run(engine, "chains.bad_render")
    assert done.status is S.FAILED
    error = (done.result or {})["error"]
    assert error.startswith('Failed to run task "first". Parameter rendering failed.')
    assert 'action parameter "message"' in error and "no_such_variable" in error
    assert await children(engine, done.id) == []


async def test_an_unknown_action_fails_the_chain_clearly(engine: Engine) -> None:
    done = await run(engine, "chains.missing_action")
    assert done.status is S.FAILED
    assert (done.result or {})["error"] == (
        'Failed to run task "first". Action with reference "nowhere.nothing" doesn\'t exist.'
    )


async def test_an_invalid_chain_is_reported_at_load_and_fails_when_run(engine: Engine) -> None:
    errors = [str(e) for e in load_packs([ROOT / "packs", PACK], config_dir=None).errors]
    assert any("broken.yaml: chain[0].bogus: unknown key" in e for e in errors), errors
    assert any('Unable to find node with name "second"' in e for e in errors) is False
    done = await run(engine, "chains.broken")
    assert done.status is S.FAILED and "chain[0].bogus" in (done.result or {})["error"]


async def test_cancel_waits_for_the_running_task_then_stops_the_chain(engine: Engine) -> None:
    requested = await engine.executions.request("chains.slow", {"seconds": 1})
    nap = await wait_execution(engine, chain_child_id(requested.id, 0), S.RUNNING, timeout=WAIT)
    await engine.executions.cancel(requested.id)
    done = await engine.executions.wait(requested.id, timeout=WAIT)
    assert done.status is S.CANCELED
    assert (await engine.store.executions.get(nap.id)).status is S.SUCCEEDED  # type: ignore[union-attr]
    assert [k.context["chain"]["name"] for k in await children(engine, done.id)] == ["nap"]


async def test_pause_stops_before_the_next_task_and_resume_carries_on(engine: Engine) -> None:
    requested = await engine.executions.request("chains.slow", {"seconds": 1})
    await wait_execution(engine, chain_child_id(requested.id, 0), S.RUNNING, timeout=WAIT)
    await engine.executions.pause(requested.id)
    paused = await wait_execution(engine, requested.id, S.PAUSED, timeout=WAIT)
    assert [t["name"] for t in (paused.result or {})["tasks"]] == ["nap"]
    await asyncio.sleep(0.3)
    assert len(await children(engine, requested.id)) == 1  # nothing started while paused
    await engine.executions.resume(requested.id)
    done = await engine.executions.wait(requested.id, timeout=WAIT)
    assert done.status is S.SUCCEEDED
    assert [t["name"] for t in (done.result or {})["tasks"]] == ["nap", "after"]


async def test_a_chain_whose_process_died_is_recovered_without_rerunning_a_task(
    tmp_path: Path,
) -> None:
    settings = load_settings(config(tmp_path))
    async with open_engine(settings, start=False) as writer:
        store = writer.store
        dead = utcnow() - timedelta(minutes=5)
        chain = Execution.request("chains.slow", "action-chain", {"seconds": 1})
        chain = chain.transition(S.RUNNING).with_changes(owner="ghost:1:1", lease_expires=dead)
        await store.executions.insert(chain)
        first = Execution.request(
            "core.local",
            "local-shell-cmd",
            {"cmd": "sleep 1"},
            {"chain": {"name": "nap", "ref": "core.local", "step": 0}},
            parent=chain.id,
            execution_id=chain_child_id(chain.id, 0),
        )
        first = first.transition(S.RUNNING).transition(S.SUCCEEDED, result={"stdout": ""})
        await store.executions.insert(first)
    async with open_engine(settings) as engine:  # recovers at start
        done = await engine.executions.wait(chain.id, timeout=WAIT)
        kids = await children(engine, chain.id)
    assert done.status is S.SUCCEEDED
    assert [t["name"] for t in (done.result or {})["tasks"]] == ["nap", "after"]
    assert [k.id for k in kids] == [first.id, chain_child_id(chain.id, 1)]
    assert kids[0].result == {"stdout": ""}  # the finished task was not run again


async def test_pausing_the_chain_pauses_its_running_workflow_task(engine: Engine) -> None:
    requested = await engine.executions.request("chains.nested", {})
    flow_id = chain_child_id(requested.id, 0)
    await wait_execution(engine, flow_id, S.RUNNING, timeout=WAIT)
    await engine.executions.pause(requested.id)
    await wait_execution(engine, flow_id, S.PAUSED, timeout=WAIT)  # the workflow is told too
    await wait_execution(engine, requested.id, S.PAUSED, timeout=WAIT)
    await engine.executions.resume(requested.id)
    done = await engine.executions.wait(requested.id, timeout=WAIT)
    assert done.status is S.SUCCEEDED, done.result
    tasks = (done.result or {})["tasks"]
    assert [t["name"] for t in tasks] == ["flow", "done"]
    assert tasks[1]["result"]["stdout"] == "after from the workflow"


async def test_canceling_the_chain_cancels_its_running_workflow_task(engine: Engine) -> None:
    requested = await engine.executions.request("chains.nested", {})
    flow_id = chain_child_id(requested.id, 0)
    await wait_execution(engine, flow_id, S.RUNNING, timeout=WAIT)
    await engine.executions.cancel(requested.id)
    done = await engine.executions.wait(requested.id, timeout=WAIT)
    assert done.status is S.CANCELED
    flow = await engine.store.executions.get(flow_id)
    assert flow is not None and flow.status is S.CANCELED
    assert len(await children(engine, requested.id)) == 1

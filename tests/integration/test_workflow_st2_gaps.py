"""Orquesta behaviour StackStorm's contrib/examples rely on (issue 13, item 6), end to end on
the real engine: with-items results through ``task()``, dotted names, cancel during a delay,
values that cannot be stored, omitted parameters, and st2's inspection error list."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app import Engine, open_engine
from bot.settings import load_settings
from core.models import Execution, ExecutionStatus
from core.store.base import ExecutionQuery

S = ExecutionStatus
PACK = Path(__file__).resolve().parents[1] / "fixtures" / "st2packs" / "wfgaps"
WAIT = 20.0


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    config = tmp_path / "squall.yaml"
    config.write_text(
        "store: {url: 'sqlite:///var/squall.db'}\n"
        f"packs: {{paths: ['{PACK}']}}\n"
        "http: {enabled: false}\n"
        "executions: {max_concurrency: 8, python_fork_server: false,"
        " shutdown_grace_seconds: 0.5}\n"
    )
    async with open_engine(load_settings(config)) as opened:
        yield opened


async def run(engine: Engine, ref: str, **params: object) -> Execution:
    requested = await engine.executions.request(ref, params, context={"user": "alice"})
    return await engine.executions.wait(requested.id, timeout=WAIT)


async def test_with_items_result_through_task_is_items_of_status_and_result(
    engine: Engine,
) -> None:
    done = await run(engine, "wfgaps.items_result")
    assert done.status is S.SUCCEEDED, done.result
    assert done.result == {
        "output": {"said": ["hi ann", "hi bob"], "statuses": ["succeeded", "succeeded"]}
    }


async def test_dotted_names_in_vars_publish_and_output(engine: Engine) -> None:
    done = await run(engine, "wfgaps.dotted_names")
    assert done.status is S.SUCCEEDED, done.result
    assert done.result == {"output": {"out.with.periods": "dotted value"}}


async def test_an_omitted_parameter_is_absent_so_the_workflow_default_applies(
    engine: Engine,
) -> None:
    done = await run(engine, "wfgaps.omitted_input")
    # concurrency: no action default → the workflow's 2; label: the action's own default wins.
    assert done.result == {"output": {"concurrency": 2, "label": "from-action"}}
    given = await run(engine, "wfgaps.omitted_input", concurrency=5)
    assert given.result == {"output": {"concurrency": 5, "label": "from-action"}}


async def test_cancel_while_a_task_waits_on_its_delay_reaches_canceled(engine: Engine) -> None:
    requested = await engine.executions.request("wfgaps.long_delay", {})
    async with asyncio.timeout(WAIT):
        while (await engine.store.executions.get(requested.id)).status is not S.RUNNING:  # type: ignore[union-attr]
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # the task is now held back by its 60 s delay
    await engine.executions.cancel(requested.id)
    done = await engine.executions.wait(requested.id, timeout=WAIT)
    assert done.status is S.CANCELED
    children = await engine.store.executions.list(ExecutionQuery(parent=requested.id))
    assert children == []  # the delayed task never started


async def test_an_unstorable_value_in_a_publish_fails_the_workflow_clearly(
    engine: Engine,
) -> None:
    done = await run(engine, "wfgaps.unstorable_publish")
    assert done.status is S.FAILED
    first = done.result["errors"][0]  # type: ignore[index]
    assert first["task_id"] == "task1" and first["task_transition_id"] == "task2__t0"
    assert first["message"] == (
        "YaqlEvaluationException: Unable to evaluate expression '<% ctx(d).keys() %>'. The "
        "value is a set, which is not JSON data and cannot be stored; convert it (e.g. to a "
        "list)."
    )


async def test_an_unstorable_action_input_fails_the_task_and_transitions_follow(
    engine: Engine,
) -> None:
    done = await run(engine, "wfgaps.unstorable_input")
    assert done.status is S.SUCCEEDED, done.result
    why = done.result["output"]["why"]  # type: ignore[index]
    assert why == (
        'ValueError: input "message": The value is a set, which is not JSON data and cannot be '
        "stored; convert it (e.g. to a list)."
    )
    children = await engine.store.executions.list(ExecutionQuery(parent=done.id))
    assert [c.parameters.get("message") for c in children] == ["handled"]

"""Metrics, traces and JSON logs for one webhook event that starts a workflow (real engine)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.app import Engine, open_engine
from bot.logs import configure_logging
from bot.settings import load_settings
from core.models import Execution, ExecutionStatus
from core.models.trigger_instance import FINISHED, TriggerInstance
from core.observe import logcontext
from core.observe.metrics import REGISTRY
from core.observe.reader import read_trace
from tests.conftest import FIXTURES

HOOK = "observe"


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    config = tmp_path / "squall.yaml"
    config.write_text(
        "store:\n  url: sqlite:///var/squall.db\n"
        f"packs:\n  paths: ['{FIXTURES / 'observe'}']\n"
        "http:\n  enabled: false\n"
    )
    async with open_engine(load_settings(config)) as opened:
        yield opened


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("DEBUG", "json", stream=stream)
    try:
        yield stream
    finally:
        configure_logging("WARNING", "text")
        logging.getLogger().setLevel(logging.WARNING)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def deploy(engine: Engine, go: str, tag: str | None = None) -> Execution | None:
    """Send one deploy event; the workflow it started, finished (None when no rule fired)."""
    instance = await engine.triggers.dispatch(
        "core.st2.webhook",
        {"headers": {}, "headers_lower": {}, "body": {"go": go}},
        trigger_parameters={"url": HOOK},
        trace_tag=tag,
    )
    assert instance is not None

    async def settled() -> Execution | None:
        while True:
            stored = await engine.store.trigger_instances.get(instance.id)
            if stored is not None and stored.status in FINISHED:
                break
            await asyncio.sleep(0.02)
        enforcements = await engine.store.rule_enforcements.list(trigger_instance_id=instance.id)
        fired = [e.execution_id for e in enforcements if e.execution_id]
        if not fired:
            return None
        return await engine.executions.wait(fired[0], timeout=20)

    return await asyncio.wait_for(settled(), timeout=30)


# What one matching deploy event should change: name → (metric, labels).
COUNTERS: dict[str, tuple[str, dict[str, str]]] = {
    "received": (
        "squall_trigger_instances_received_total",
        {"trigger": "core.st2.webhook", "source": "webhook"},
    ),
    "evaluated": ("squall_rule_evaluations_total", {"rule": "observe_demo.on_deploy"}),
    "skipped": ("squall_rule_evaluations_total", {"rule": "observe_demo.never"}),
    "matched": ("squall_rule_matches_total", {"rule": "observe_demo.on_deploy"}),
    "unmatched": ("squall_rule_matches_total", {"rule": "observe_demo.never"}),
    "runs": (
        "squall_executions_completed_total",
        {"action": "observe_demo.pair", "status": "succeeded"},
    ),
    "tasks": ("squall_workflow_tasks_completed_total", {"status": "succeeded"}),
}


def counters() -> dict[str, float]:
    return {key: sample(name, **labels) for key, (name, labels) in COUNTERS.items()}


async def test_one_matching_event_counts_once_on_each_counter(engine: Engine) -> None:
    before = counters()
    done = await deploy(engine, "yes")
    assert done is not None and done.status is ExecutionStatus.SUCCEEDED
    after = counters()
    # The index never offers "never" to the evaluator: its criterion cannot match "yes".
    assert {k: after[k] - before[k] for k in before} == {
        "received": 1,
        "evaluated": 1,
        "skipped": 0,
        "matched": 1,
        "unmatched": 0,
        "runs": 1,
        "tasks": 2,
    }


async def test_a_tagged_event_is_one_trace_from_instance_to_workflow_children(
    engine: Engine,
) -> None:
    done = await deploy(engine, "yes", tag="release-9")
    assert done is not None
    trace = await read_trace(engine.store, tag="release-9")
    assert trace is not None
    doc = trace.to_st2()
    assert doc["trace_tag"] == "release-9"
    assert [c["ref"] for c in doc["trigger_instances"]] == ["core.st2.webhook"]
    assert [c["ref"] for c in doc["rules"]] == ["observe_demo.on_deploy"]
    refs = [c["ref"] for c in doc["action_executions"]]
    assert refs == ["observe_demo.pair", "core.noop", "core.noop"]
    # A second event with the same tag joins the trace, as in st2.
    await deploy(engine, "yes", tag="release-9")
    again = await read_trace(engine.store, tag="release-9")
    assert again is not None and again.id == trace.id
    assert len(again.trigger_instances) == 2 and len(again.action_executions) == 6


async def test_every_json_line_about_an_execution_carries_its_trace_id(
    engine: Engine, json_logs: io.StringIO
) -> None:
    done = await deploy(engine, "yes")
    assert done is not None
    trace_id = done.context["trace_context"]["id_"]
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    about = [line for line in lines if line.get("execution_id")]
    assert about, "no log line named an execution"
    assert all(line.get("trace_id") for line in about), [x for x in about if not x.get("trace_id")]
    ours = [line for line in about if line["execution_id"] == done.id]
    assert ours and {line["trace_id"] for line in ours} == {trace_id}


async def test_processing_inline_leaves_no_ids_bound_for_the_caller(engine: Engine) -> None:
    # Recovery and the takeover sweep process instances inline; their later lines (a lease
    # taken, an execution abandoned) must not carry the last instance's trace and trigger.
    stored = TriggerInstance.new(
        "core.st2.webhook", {"body": {"go": "no"}}, trigger_parameters={"url": HOOK}
    )
    assert await engine.store.trigger_instances.insert(stored)
    await engine.triggers.process(stored)
    assert logcontext.current() == {}

"""Traces assembled from stored records: st2's shape, causes, and the tree an operator reads."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from core.models.execution import Execution, ExecutionStatus
from core.models.trace import TraceContext
from core.models.trigger_instance import RuleEnforcement, TriggerInstance
from core.observe.metrics import source_kind
from core.observe.traces import assemble, tree_lines


def _chain() -> tuple[TraceContext, TriggerInstance, RuleEnforcement, Execution, Execution]:
    trace = TraceContext.new("deploy-42")
    instance = TriggerInstance.new("core.st2.webhook", {"body": {}}, source="webhook:deploy")
    enforcement = RuleEnforcement.new("demo.on_deploy", instance.id)
    workflow = Execution.request(
        "demo.flow", "orquesta", {}, context={"trace_context": trace.to_doc()}
    )
    enforcement = replace(enforcement, execution_id=workflow.id)
    task = Execution.request(
        "core.noop", "noop", {}, context={"trace_context": trace.to_doc()}, parent=workflow.id
    )
    task = replace(task, start_timestamp=workflow.start_timestamp + timedelta(seconds=1))
    return trace, instance, enforcement, workflow, task


def test_assemble_links_instance_rule_execution_and_child() -> None:
    trace, instance, enforcement, workflow, task = _chain()
    doc = assemble(trace, [instance], [enforcement], [task, workflow]).to_st2()
    assert doc["trace_tag"] == "deploy-42"
    assert [c["object_id"] for c in doc["trigger_instances"]] == [instance.id]
    assert doc["rules"][0]["ref"] == "demo.on_deploy"
    assert doc["rules"][0]["caused_by"] == {"type": "trigger_instance", "id": instance.id}
    causes = {c["object_id"]: c["caused_by"] for c in doc["action_executions"]}
    assert causes[workflow.id] == {"type": "rule", "id": enforcement.id}
    assert causes[task.id] == {"type": "action_execution", "id": workflow.id}


def test_enforcements_of_other_instances_are_not_part_of_the_trace() -> None:
    trace, instance, enforcement, workflow, _ = _chain()
    stray = RuleEnforcement.new("demo.other", "someone-else")
    doc = assemble(trace, [instance], [enforcement, stray], [workflow]).to_st2()
    assert [r["ref"] for r in doc["rules"]] == ["demo.on_deploy"]


def test_tree_nests_each_component_under_its_cause() -> None:
    trace, instance, enforcement, workflow, task = _chain()
    workflow = replace(workflow, status=ExecutionStatus.SUCCEEDED)
    lines = tree_lines(assemble(trace, [instance], [enforcement], [workflow, task]))
    assert lines[0] == f"trace {trace.id} (tag deploy-42)"
    assert lines[1] == f"  trigger_instance core.st2.webhook {instance.id} [pending]"
    assert lines[2].startswith("    rule demo.on_deploy")
    assert lines[3] == f"      action_execution demo.flow {workflow.id} [succeeded]"
    assert lines[4].startswith("        action_execution core.noop")


def test_an_injected_instance_hangs_under_the_execution_that_injected_it() -> None:
    trace = TraceContext.new()
    parent = Execution.request(
        "core.inject_trigger", "inject-trigger", {}, context={"trace_context": trace.to_doc()}
    )
    injected = TriggerInstance.new("demo.event", {}, source=f"execution:{parent.id}")
    lines = tree_lines(assemble(trace, [injected], [], [parent]))
    assert lines[1].strip().startswith("action_execution core.inject_trigger")
    assert lines[2].strip().startswith("trigger_instance demo.event")


def test_a_chat_started_execution_names_its_origin() -> None:
    trace = TraceContext.new()
    run = Execution.request(
        "core.echo",
        "local-shell-cmd",
        {},
        context={
            "user": "alice",
            "chat": {"adapter": "slack", "channel": "C1", "message": "17.2"},
            "trace_context": trace.to_doc(),
        },
    )
    doc = assemble(trace, [], [], [run]).to_st2()
    assert doc["action_executions"][0]["caused_by"] == {"type": "chat", "id": "slack:C1:17.2"}


def test_trace_context_round_trips_through_an_execution_context() -> None:
    trace = TraceContext.new("t")
    assert TraceContext.of_execution({"trace_context": trace.to_doc()}) == trace
    assert TraceContext.of_execution({}) is None
    assert TraceContext.of_execution({"trace_context": {"trace_tag": "x"}}) is None


def test_source_kinds_are_a_bounded_vocabulary() -> None:
    assert source_kind("webhook:github") == "webhook"
    assert source_kind("timer:demo.daily") == "timer"
    assert source_kind("sensor:pack.Watcher") == "sensor"
    assert source_kind("execution:5f3a") == "inject"
    assert source_kind("execution") == "action"  # actiontrigger
    assert source_kind("notify") == "action"
    assert source_kind("whatever a caller typed") == "other"

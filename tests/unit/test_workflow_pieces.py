"""Pure pieces around workflows: inquiry schemas, yes/no answers, status paths, child ids,
progress lines, with-items bookkeeping and the conductor's rerun."""

from __future__ import annotations

import pytest

from bot.chat.cards import yes_no_question
from bot.chat.progress import progress_line
from core.approvals.inquiries import normalize_schema
from core.approvals.service import with_defaults, yes_no_response
from core.models import ExecutionStatus
from core.models.status import IllegalTransition, check_rerun, transition_path
from core.runners.types import DEFAULT_INQUIRY_SCHEMA
from core.workflows.conductor import Conductor, WorkflowStatusError
from core.workflows.engine import child_execution_id
from core.workflows.graph import WorkflowGraph
from core.workflows.spec import parse_workflow
from core.workflows.state import Items

S = ExecutionStatus


def test_st2_style_required_becomes_a_standard_schema() -> None:
    schema = normalize_schema({
        "type": "object",
        "properties": {"approved": {"type": "boolean", "required": True},
                       "note": {"type": "object", "required": False,
                                "properties": {"x": {"type": "string", "required": True}}}},
    })  # fmt: skip
    assert schema["required"] == ["approved"]
    assert "required" not in schema["properties"]["approved"]
    assert schema["properties"]["note"]["required"] == ["x"]
    assert normalize_schema(DEFAULT_INQUIRY_SCHEMA)["required"] == ["continue"]


def test_approve_and_deny_answer_the_one_yes_no_question() -> None:
    default = normalize_schema(DEFAULT_INQUIRY_SCHEMA)
    assert yes_no_response(default, True) == {"continue": True}
    assert yes_no_question(default) == "continue"
    properties = {"approved": {"type": "boolean"}, "why": {"type": "string"}}
    with_reason = {"type": "object", "required": ["approved"], "properties": properties}
    assert yes_no_response(with_reason, False) == {"approved": False}
    assert yes_no_question(with_reason) == "approved"
    two = {"type": "object", "properties": {"a": {"type": "boolean"}, "b": {"type": "boolean"}}}
    assert yes_no_response(two, True) == {"approved": True} and yes_no_question(two) is None
    needs_text = {"type": "object", "required": ["why"], "properties": {
        "ok": {"type": "boolean"}, "why": {"type": "string"}}}  # fmt: skip
    assert yes_no_question(needs_text) is None  # Approve alone could not answer it


def test_defaults_fill_only_what_is_missing() -> None:
    schema = {"properties": {"a": {"default": 1}, "b": {"default": 2}, "c": {}}}
    assert with_defaults(schema, {"a": 5}) == {"a": 5, "b": 2}


def test_status_paths_follow_the_table_and_rerun_is_its_own_way_out() -> None:
    assert transition_path(S.RUNNING, S.PAUSED) == [S.PAUSING, S.PAUSED]
    assert transition_path(S.PAUSED, S.RUNNING) == [S.RESUMING, S.RUNNING]
    assert transition_path(S.RUNNING, S.RUNNING) == []
    with pytest.raises(ValueError, match="no transition path"):
        transition_path(S.SUCCEEDED, S.RUNNING)
    check_rerun(S.FAILED)
    with pytest.raises(IllegalTransition):
        check_rerun(S.RUNNING)


def test_child_ids_are_stable_and_distinct_per_step() -> None:
    first = child_execution_id("wf", 3, None, 0)
    assert first == child_execution_id("wf", 3, None, 0) and len(first) == 24
    others = {
        child_execution_id("wf", 3, 0, 0),
        child_execution_id("wf", 3, None, 1),
        child_execution_id("wf", 4, None, 0),
        child_execution_id("wf2", 3, None, 0),
    }
    assert first not in others and len(others) == 4


def test_progress_line_counts_each_kind() -> None:
    statuses = {"a": S.SUCCEEDED, "b": S.RUNNING, "c": S.REQUESTED, "d": S.FAILED,
                "e": S.PENDING, "f": S.CANCELED}  # fmt: skip
    assert progress_line(statuses) == (
        "tasks: 1 done · 2 running · 1 failed · 1 waiting for an answer · 1 canceled"
    )


def test_items_keep_counts_and_a_cursor_at_the_first_not_started() -> None:
    items = Items(5)
    assert items.not_started(2) == [0, 1]
    items.set(0, {"status": "running"})
    items.set(1, {"status": "succeeded"})
    assert items.not_started() == [2, 3, 4] and items.counts["null"] == 3
    items.set(0, {"status": "null"})  # reset (a rerun): the cursor goes back
    assert items.not_started(1) == [0]
    assert items.has({"succeeded"}) and not items.has({"failed"})


def _conductor(workflow: dict[str, object]) -> Conductor:
    spec, errors = parse_workflow(workflow)
    assert spec is not None and not errors
    conductor = Conductor.start(WorkflowGraph(spec), {})
    conductor.request_status("running")
    return conductor


def _run(conductor: Conductor, fail: set[str]) -> None:
    while tasks := conductor.next_tasks():
        for task in tasks:
            conductor.update_task(task.id, task.route, "running")
            conductor.update_task(task.id, task.route, "failed" if task.id in fail else "succeeded")


def test_rerun_stages_the_failed_task_in_its_old_context() -> None:
    workflow = {"version": 1.0, "tasks": {
        "a": {"action": "core.noop", "next": [{"publish": [{"x": 1}], "do": "b"}]},
        "b": {"action": "core.noop", "next": [{"when": "<% succeeded() %>", "do": "c"}]},
        "c": {"action": "core.noop"}}, "output": [{"x": "<% ctx(x) %>"}]}  # fmt: skip
    conductor = _conductor(workflow)
    _run(conductor, fail={"b"})
    assert conductor.status == "failed"
    with pytest.raises(WorkflowStatusError, match="never ran"):
        conductor.request_rerun(["c"])
    conductor.request_rerun()
    assert conductor.status == "resuming" and conductor.state.errors == []
    [task] = conductor.next_tasks()
    assert task.id == "b" and task.context["x"] == 1
    _run(conductor, fail=set())
    conductor.render_output()
    assert conductor.status == "succeeded" and conductor.state.output == {"x": 1}
    assert [e.id for e in conductor.state.sequence] == ["a", "b", "b", "c"]
    with pytest.raises(WorkflowStatusError, match="no failed task"):
        conductor.request_rerun()


def test_rerun_after_a_fail_command_runs_the_failed_task_not_the_command() -> None:
    workflow = {"version": 1.0, "tasks": {
        "a": {"action": "core.noop", "next": [
            {"when": "<% succeeded() %>", "do": "b"}, {"when": "<% failed() %>", "do": "fail"}]},
        "b": {"action": "core.noop"}}}  # fmt: skip
    conductor = _conductor(workflow)
    _run(conductor, fail={"a"})
    assert conductor.status == "failed"
    assert "fail" in [e.id for e in conductor.state.sequence]
    with pytest.raises(WorkflowStatusError, match="fail"):
        conductor.request_rerun(["fail"])
    conductor.request_rerun()
    assert [task.id for task in conductor.next_tasks()] == ["a"]
    _run(conductor, fail=set())
    assert conductor.status == "succeeded"
    assert [e.id for e in conductor.state.sequence] == ["a", "fail", "a", "b"]


def test_rerun_after_a_fail_command_on_success_has_no_task_to_rerun() -> None:
    workflow = {
        "version": 1.0,
        "tasks": {
            "a": {"action": "core.noop", "next": [{"when": "<% succeeded() %>", "do": "fail"}]}
        },
    }
    conductor = _conductor(workflow)
    _run(conductor, fail=set())
    assert conductor.status == "failed"
    with pytest.raises(WorkflowStatusError, match="no failed task"):
        conductor.request_rerun()

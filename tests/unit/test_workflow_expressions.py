"""Workflow expressions: the shortcuts taken for speed give what the full engines give.

``succeeded()``, ``failed()`` and ``completed()`` as a whole expression are called directly
instead of through yaql or Jinja; the yaql context converts the workflow context for
``$__vars`` only when an expression reads it. Each is compared with the full evaluation
(spelled with a space, which the shortcut does not recognise but the engines parse the same)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from core.workflows.expressions import CurrentTask, ExpressionError, Scope

STATUSES = ("null", "running", "succeeded", "failed", "timeout", "canceled", "paused")


class View:
    def __init__(self, status: str) -> None:
        self.status = status

    def task_status(self, task_id: str, route: int) -> str:
        return self.status

    def task_record(self, task_id: str, route: int) -> Mapping[str, Any] | None:
        return None


def evaluated(statement: str, scope: Scope) -> tuple[str, Any]:
    try:
        return "value", scope.evaluate(statement)
    except ExpressionError as exc:
        return type(exc).__name__, str(exc).replace("( )", "()")


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("function", ["succeeded", "failed", "completed"])
@pytest.mark.parametrize("flavour", ["<% {} %>", "{{{{ {} }}}}", "<%{}%>", "{{{{{}}}}}"])
def test_status_tests_give_what_the_engines_give(status: str, function: str, flavour: str) -> None:
    def scope() -> Scope:
        return Scope({"x": 1}, task=CurrentTask("t", 0, None), view=View(status))

    quick = evaluated(flavour.format(f"{function}()"), scope())
    full = evaluated(flavour.format(f"{function}( )"), scope())
    assert quick == full
    expected = {"succeeded": status == "succeeded", "failed": status == "failed",
                "completed": status in ("succeeded", "failed", "timeout", "canceled")}  # fmt: skip
    assert quick == ("value", expected[function])
    assert isinstance(quick[1], bool)


@pytest.mark.parametrize("flavour", ["<% {} %>", "{{{{ {} }}}}"])
def test_status_test_errors_read_as_the_engines_word_them(flavour: str) -> None:
    quick = evaluated(flavour.format("succeeded()"), Scope({}, view=View("succeeded")))
    full = evaluated(flavour.format("succeeded( )"), Scope({}, view=View("succeeded")))
    assert quick == full
    assert quick[0] in ("YaqlEvaluationError", "JinjaEvaluationError")
    assert "The current task is not set in the context." in quick[1]


def test_status_tests_inside_text_and_longer_expressions_still_evaluate() -> None:
    scope = Scope({"flag": True}, task=CurrentTask("t", 0, None), view=View("failed"))
    assert scope.evaluate("<% succeeded() or ctx(flag) %>") is True
    assert scope.evaluate("<% failed() and not ctx(flag) %>") is False
    assert scope.evaluate("done: <% completed() %>") == "done: True"


def test_vars_are_converted_only_for_an_expression_that_reads_them() -> None:
    data = {"items": [{"a": 1}, {"a": 2}], "name": "x"}
    scope = Scope(data, task=CurrentTask("t", 0, None), view=View("succeeded"))
    assert scope.evaluate("<% ctx(name) %>") == "x"  # the yaql context exists, without $__vars
    assert scope.evaluate("<% $__vars.items.select($.a) %>") == [1, 2]
    assert scope.evaluate("<% $__vars.name %>") == "x"
    fresh = Scope(data, task=CurrentTask("t", 0, None), view=View("succeeded"))
    assert fresh.evaluate("<% len($__vars.items) %>") == 2

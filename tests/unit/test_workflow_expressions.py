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


# -- plain reads (reads.py) -------------------------------------------------------------------
DATA = {"a": 1, "s": "x", "n": None, "b": True, "l": [1, {"b": 2}], "d": {"x": [1, 2.5]},
        "__p": 1, "t": (1, 2), "st": {1, 2}, "e": {}}  # fmt: skip
KEYS = [*DATA, "missing", "a b", "true"]
RESULTS = [None, "text", [1, 2], {"stdout": "x", "__x": 1, "t": (1,), "n": {"a": [1]}}]
ITEMS = [_UNSET_ITEM := object(), 5, "s", [1], {"x": 1, "y": {"z": None}, "t": (1,)}]


def read_forms(function: str, keys: list[str]) -> list[str]:
    forms = [f"{function}()"] if function != "ctx" else []
    for key in keys:
        if function != "result":
            forms += [f"{function}('{key}')", f'{function}("{key}")']
            if key.isidentifier():
                forms.append(f"{function}({key})")
        if key.isidentifier():
            forms.append(f"{function}().{key}")
    return forms


def scopes() -> list[Scope]:
    found = [Scope(DATA, view=View("succeeded"))]
    found += [Scope(DATA, task=CurrentTask("t", 0, r), view=View("succeeded")) for r in RESULTS]
    found += [Scope(DATA, task=CurrentTask("t", 0, None), view=View("succeeded"))]
    for item in ITEMS:
        if item is not _UNSET_ITEM:
            found.append(Scope(DATA, task=CurrentTask("t", 0), item=item, view=View("failed")))
    return found


def test_plain_reads_give_what_yaql_gives() -> None:
    forms = [
        *read_forms("ctx", KEYS), *read_forms("result", ["stdout", "__x", "t", "n", "missing"]),
        *read_forms("item", ["x", "y", "t", "missing"]),
    ]  # fmt: skip
    compared = 0
    for form in forms:
        for flavour in ("<% {} %>", "<%{}%>", "{}: <% {} %>"):
            for scope_for in (scopes, lambda: [s.with_item(None) for s in scopes()]):
                for quick_scope, full_scope in zip(scope_for(), scope_for(), strict=True):
                    text = flavour.format(form) if "{}:" not in flavour else f"v: <% {form} %>"
                    quick = evaluated(text, quick_scope)
                    if "Lexical error" in str(quick[1]) or "Parse error" in str(quick[1]):
                        continue  # ``ctx(__p)`` does not parse: no shortcut, nothing to compare
                    full = evaluated(text.replace(form, f"({form})"), full_scope)
                    full = (
                        (full[0], full[1].replace(f"({form})", form))
                        if full[0] != "value"
                        else full
                    )
                    assert quick == full, (text, quick, full)
                    assert type(quick[1]) is type(full[1])
                    compared += 1
    assert compared > 500


def test_plain_reads_of_json_data_do_not_run_yaql(monkeypatch: pytest.MonkeyPatch) -> None:
    from yaql.language import expressions as yaql_ast

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("yaql evaluated a plain read")

    scope = Scope(DATA, task=CurrentTask("t", 0, {"stdout": "out"}), item={"x": [1]},
                  view=View("succeeded"))  # fmt: skip
    scope.evaluate("<% ctx(s) %>")  # parsed (and cached) before yaql is refused
    monkeypatch.setattr(yaql_ast.Statement, "evaluate", refuse)
    assert scope.evaluate("<% ctx(a) %>") == 1
    assert scope.evaluate("<% ctx('l') %>") == [1, {"b": 2}]
    assert scope.evaluate("<% ctx().d %>") == {"x": [1, 2.5]}
    assert scope.evaluate("<% result().stdout %>") == "out"
    assert scope.evaluate("<% item().x %>") == [1] == scope.evaluate("<% item(x) %>")
    assert scope.evaluate("<% succeeded() %>") is True
    with pytest.raises(ExpressionError, match="yaql evaluated a plain read"):
        scope.evaluate("<% ctx(missing) %>")  # left to yaql, which words the error


def test_importing_expressions_leaves_the_yaql_parser_for_the_first_expression() -> None:
    import subprocess
    import sys

    probe = (
        "import core.workflows.expressions as e\n"
        "assert e._yaql_engine.cache_info().currsize == 0, 'built at import'\n"
        "assert e.Scope({'a': 1}).evaluate('<% ctx(a) + 1 %>') == 2\n"
        "assert e._yaql_engine.cache_info().currsize == 1\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr

"""The workflow schema's shortcut: tasks that hand-written checks accept skip jsonschema (which
spends ~40 µs on each). Property: a task the checks accept is one the schema accepts, and a
whole document's syntax errors (messages, paths, schema paths, order) are exactly the schema's
own, on random documents made of the schema's keys and awkward values."""

from __future__ import annotations

from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.workflows import spec as spec_module
from core.workflows.spec import parse_workflow

TASK_VALIDATOR = jsonschema.Draft7Validator(spec_module._TASK)
TASK_KEYS = ("delay", "join", "with", "action", "input", "retry", "next")
INNER_KEYS = ("items", "concurrency", "when", "count", "delay", "publish", "do", "x", "a-b")

# Values at the schema's edges: empty and non-empty text, integers around 0, booleans and
# floats where integers go, lists with duplicates, one-key and two-key mappings.
text = st.sampled_from(["", "x", "all", "a", "b", "<% ctx(a) %>", "x in <% y %>"])
number = st.sampled_from([0, 2, -1, True, False, 1.0, None])
leaf = st.one_of(text, number)
one_key = st.dictionaries(st.sampled_from(["v", "w", "a-b"]), leaf, max_size=2)
inner = st.one_of(
    leaf, st.lists(text, max_size=3), st.lists(one_key, max_size=2),
    st.dictionaries(st.sampled_from(INNER_KEYS), st.one_of(leaf, st.lists(text, max_size=2)),
                    max_size=3),
)  # fmt: skip
transition = st.dictionaries(st.sampled_from(("when", "publish", "do", "x")), inner, max_size=3)
field_value = st.one_of(inner, st.lists(transition, max_size=3))
# Tasks that are valid but for one or two fields, so the checks' every clause is exercised.
near_transition = st.fixed_dictionaries({}, optional={
    "when": text,
    "publish": st.one_of(text, st.lists(one_key, max_size=2)),
    "do": st.one_of(text, st.lists(st.sampled_from(["a", "b", ""]), max_size=3)),
})  # fmt: skip
near_task = st.fixed_dictionaries({}, optional={
    "action": text, "join": leaf, "delay": leaf,
    "next": st.lists(near_transition, max_size=3),
    "with": st.one_of(
        text, st.fixed_dictionaries({}, optional={"items": text, "concurrency": leaf})),
    "retry": st.fixed_dictionaries({}, optional={"count": leaf, "when": text, "delay": leaf}),
    "input": st.one_of(text, st.dictionaries(st.sampled_from(["a", "b"]), leaf, max_size=2)),
})  # fmt: skip
tasks = st.one_of(
    leaf,
    near_task,
    st.dictionaries(st.sampled_from((*TASK_KEYS, "bogus")), field_value, max_size=4),
    st.dictionaries(st.sampled_from(TASK_KEYS), field_value, max_size=2),
)
documents = st.fixed_dictionaries(
    {"version": st.sampled_from([1.0, "1.0", 2])},
    optional={
        "tasks": st.dictionaries(st.sampled_from(["t1", "t2", "bad-name"]), tasks, max_size=3),
        "input": inner,
        "extra": leaf,
    },
)


def described(errors: list[jsonschema.ValidationError]) -> list[tuple[Any, ...]]:
    return [(e.message, list(e.absolute_path), list(e.absolute_schema_path)) for e in errors]


@settings(max_examples=400, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(tasks)
def test_a_task_the_checks_accept_is_one_the_schema_accepts(task: Any) -> None:
    if spec_module._plain_task(task):
        assert list(TASK_VALIDATOR.iter_errors(task)) == []


@settings(max_examples=400, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(documents)
def test_syntax_errors_are_exactly_the_schemas_own(document: dict[str, Any]) -> None:
    full = sorted(spec_module._VALIDATOR.iter_errors(document),
                  key=lambda e: list(e.absolute_path))  # fmt: skip
    assert described(spec_module._schema_errors(document)) == described(full)


def test_the_common_task_shapes_take_the_shortcut() -> None:
    plain = [
        {"action": "core.noop"},
        {"action": "core.local cmd=true", "next": [{"when": "<% succeeded() %>", "do": "b"}]},
        {"with": {"items": "<% ctx(xs) %>", "concurrency": 4}, "action": "core.noop",
         "input": {"x": "<% item() %>"}, "retry": {"count": 3, "when": "<% failed() %>"}},
        {"join": "all", "delay": 2, "next": [{"publish": [{"a": 1}], "do": ["x", "y"]}]},
        {"with": "x in <% ctx(xs) %>", "action": "core.echo", "join": 2,
         "next": [{"publish": "a=<% result() %>"}]},
    ]  # fmt: skip
    assert all(spec_module._plain_task(task) for task in plain)
    assert (
        parse_workflow({"version": 1.0, "tasks": {f"t{i}": t for i, t in enumerate(plain)}})[1]
        == []
    )
    refused = [{"action": ""}, {"join": True}, {"delay": 1.0}, {"next": [{"do": ["a", "a"]}]},
               {"retry": {"when": "x"}}, {"input": {}}, {"bogus": 1}]  # fmt: skip
    assert not any(spec_module._plain_task(task) for task in refused)

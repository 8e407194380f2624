"""Random workflow graphs for differential tests (hypothesis strategies).

A generated workflow is a DAG of up to eight tasks: each task has up to three transitions to
later tasks (or to the ``fail``/``noop``/``continue`` commands) guarded by ``succeeded()``,
``failed()``, ``completed()``, a published-variable test or nothing; transitions publish
values from the task's result or the context; tasks with several inbound edges may be joins
(all, or a count); some tasks iterate items. Each task's mocked result is random, so failures,
remediation, unsatisfied joins and unreachable joins all come up. Only DAGs: a cycle needs an
exit condition a random graph would not have.
"""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import strategies as st

CONDITIONS = (None, "<% succeeded() %>", "<% failed() %>", "<% completed() %>",
              "{{ succeeded() }}", "<% succeeded() and ctx(flag) %>",
              "<% failed() or ctx(flag) = false %>")  # fmt: skip
PUBLISHES = (
    ("flag", "<% ctx(flag) or false %>"),
    ("flag", "<% not ctx(flag) %>"),
    ("last", "<% result() %>"),
    ("count", "<% ctx(count) + 1 %>"),
    ("seen", "{{ ctx().seen ~ '.' }}"),
)
COMMANDS = ("fail", "noop", "continue")


@st.composite
def workflow_case(draw: st.DrawFn, index: int = 0) -> dict[str, Any]:
    size = draw(st.integers(min_value=2, max_value=8))
    names = [f"t{i}" for i in range(size)]
    inbound: dict[str, int] = dict.fromkeys(names, 0)
    tasks: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(names):
        task: dict[str, Any] = {"action": "core.noop"}
        if draw(st.integers(0, 9)) == 0:
            task["with"] = {"items": "<% range(3) %>"}
            task["action"] = "core.echo message=<% item() %>"
        transitions = []
        for _ in range(draw(st.integers(0, 3))):
            targets = draw(st.lists(st.sampled_from(names[i + 1 :] + list(COMMANDS)),
                                    min_size=1, max_size=2, unique=True))  # fmt: skip
            transition: dict[str, Any] = {"do": targets}
            condition = draw(st.sampled_from(CONDITIONS))
            if condition is not None:
                transition["when"] = condition
            publish = draw(
                st.lists(st.sampled_from(PUBLISHES), max_size=2, unique_by=lambda p: p[0])
            )
            if publish:
                transition["publish"] = [{k: v} for k, v in publish]
            for target in targets:
                inbound[target] = inbound.get(target, 0) + 1
            transitions.append(transition)
        if transitions:
            task["next"] = transitions
        tasks[name] = task
    for name in names:
        if inbound[name] >= 2 and draw(st.booleans()):
            tasks[name]["join"] = draw(st.sampled_from(["all", *range(1, inbound[name] + 1)]))
    mocks = {name: [draw(st.sampled_from([*[{"status": "succeeded", "result": name}] * 3,
                                          {"status": "failed", "result": None}]))]
             for name in names}  # fmt: skip
    workflow = {
        "version": 1.0,
        "vars": [{"flag": True}, {"count": 0}, {"seen": ""}, {"last": None}],
        "tasks": tasks,
        "output": [{"count": "<% ctx(count) %>"}, {"last": "<% ctx(last) %>"},
                   {"seen": "<% ctx(seen) %>"}, {"flag": "<% ctx(flag) %>"}],
    }  # fmt: skip
    return {"id": f"generated-{index}", "workflow": yaml.safe_dump(workflow, sort_keys=False),
            "inputs": {}, "mocks": mocks, "items": {}}  # fmt: skip


def workflow_cases(count: int) -> st.SearchStrategy[list[dict[str, Any]]]:
    return st.tuples(*(workflow_case(i) for i in range(count))).map(list)

"""Inspect a workflow before it runs: every problem, with where it is. Pure.

Kinds follow Orquesta's inspection: ``semantics`` (reserved task names, no start task, ``do``
targets that are not tasks, joins that cannot be reached unambiguously, with-items without an
action), ``expression`` (expressions that do not parse), ``context`` (``ctx()`` variables read
before anything assigns them on the way there) and — with an action catalogue — ``content``
(unknown actions, required inputs missing, inputs the action does not take).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from core.workflows.expressions import extract_ctx_vars, has_expressions, validate
from core.workflows.graph import WorkflowGraph
from core.workflows.spec import ENGINE_COMMANDS, SpecError, TaskSpec, WorkflowSpec

__all__ = ["ActionSchemas", "inspect_workflow"]

# ``pack.name``, as st2's ResourceReference requires.
_REF = re.compile(r"[^.\s]+\.[^\s]+")
# An action's parameter schemas by ref (None: no such action).
ActionSchemas = Callable[[str], Mapping[str, Mapping[str, Any]] | None]
_UNREACHABLE_JOIN = (
    'The join task "{}" is unreachable. A join task is determined to be unreachable if there are '
    "nested forks from multi-referenced tasks that join on the said task. This is ambiguous to "
    "the workflow engine because it does not know at which level should the join occurs."
)


def inspect_workflow(
    spec: WorkflowSpec,
    *,
    actions: ActionSchemas | None = None,
    context: Iterable[str] = (),
) -> list[SpecError]:
    """Every problem of ``spec``; ``context`` names variables the engine provides (st2, parent)."""
    graph = WorkflowGraph(spec)
    errors = _semantics(spec, graph)
    errors += _expressions(spec)
    errors += _context(spec, graph, set(context))  # Orquesta reports all kinds together
    if actions is not None:
        errors += _content(spec, actions)
    return errors


# -- semantics ----------------------------------------------------------------------------
def _semantics(spec: WorkflowSpec, graph: WorkflowGraph) -> list[SpecError]:
    errors = [
        SpecError(
            "semantics",
            f'The task name "{name}" is reserved with special function.',
            f"spec.tasks.{name}",
        )
        for name in spec.tasks
        if name in ENGINE_COMMANDS
    ]
    if spec.tasks and not graph.start_tasks:
        errors.append(SpecError(
            "semantics",
            "Unable to identify any tasks to start the workflow. If the workflow has a loop, "
            "please add a task that serves as an entry point (or lead) into the loop.",
            "spec.tasks",
        ))  # fmt: skip
    errors += _undefined(spec, graph)
    errors += _unreachable_joins(spec, graph)
    errors += [
        SpecError(
            "semantics",
            "The action property is required for with items task.",
            f"spec.tasks.{name}",
        )
        for name, task in spec.tasks.items()
        if task.items is not None and not task.action
    ]
    return errors


def _undefined(spec: WorkflowSpec, graph: WorkflowGraph) -> list[SpecError]:
    errors = []
    queue = deque(graph.start_tasks)
    traversed: set[str] = set()
    while queue:
        name = queue.popleft()
        traversed.add(name)
        for index, transition in enumerate(spec.task(name).next):
            for target in transition.do:
                if target in traversed:
                    continue
                if target in spec.tasks or target in ENGINE_COMMANDS:
                    if target not in ENGINE_COMMANDS:
                        queue.append(target)
                else:
                    errors.append(SpecError("semantics", f'The task "{target}" is not defined.',
                                            f"spec.tasks.{name}.next[{index}].do"))  # fmt: skip
    return errors


def _unreachable_joins(spec: WorkflowSpec, graph: WorkflowGraph) -> list[SpecError]:
    staging: dict[str, dict[str, Any]] = {}
    queue: deque[tuple[str | None, str, list[str]]] = deque(
        (None, t, []) for t in graph.start_tasks
    )
    while queue:
        prev, name, splits = queue.popleft()
        if name not in spec.tasks:
            continue
        if graph.is_split(name) and not graph.spec_in_cycle(name):
            splits = [*splits, name]
        meta = staging.setdefault(name, {"join": spec.tasks[name].join is not None,
                                         "splits": set(), "prev": set()})  # fmt: skip
        meta["splits"] |= set(splits)
        if prev:
            meta["prev"].add(prev)
        for target, _, _ in graph.spec_next(name):
            if target not in staging or not graph.spec_in_cycle(target):
                queue.append((name, target, list(splits)))
    errors = []
    for name, meta in staging.items():
        if not meta["join"]:
            continue
        if any(meta["splits"] != staging[prev]["splits"] for prev in meta["prev"]):
            errors.append(
                SpecError("semantics", _UNREACHABLE_JOIN.format(name), f"spec.tasks.{name}")
            )
    return errors


# -- expressions --------------------------------------------------------------------------
def _task_statements(task: TaskSpec) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = [("action", task.action), ("input", task.input),
                                    ("delay", task.delay)]  # fmt: skip
    if task.items is not None:
        found += [
            ("with.items", task.items.expression),
            ("with.concurrency", task.items.concurrency),
        ]
    if task.retry is not None:
        found += [("retry.when", task.retry.when), ("retry.count", task.retry.count),
                  ("retry.delay", task.retry.delay)]  # fmt: skip
    for index, transition in enumerate(task.next):
        found.append((f"next[{index}].when", transition.when))
        found += [(f"next[{index}].publish.{name}", value) for name, value in transition.publish]
    return found


def _expressions(spec: WorkflowSpec) -> list[SpecError]:
    found: list[tuple[str, Any]] = []
    for section in ("input", "vars", "output"):
        found += [(f"spec.{section}.{name}", value) for name, value in getattr(spec, section)]
    for name, task in spec.tasks.items():
        found += [(f"spec.tasks.{name}.{where}", value) for where, value in _task_statements(task)]
    return [
        SpecError("expression", message, path, _shown(value))
        for path, value in found
        for message in validate(value)
    ]


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


# -- context ------------------------------------------------------------------------------
def _context(spec: WorkflowSpec, graph: WorkflowGraph, provided: set[str]) -> list[SpecError]:
    errors: list[SpecError] = []
    defined = set(provided)
    for section in ("input", "vars"):
        for name, value in getattr(spec, section):
            errors += _undefined_vars(value, defined, f"spec.{section}.{name}")
            defined.add(name)
    rolling = set(defined)
    joins: dict[str, set[str]] = {}
    queue: deque[tuple[str, set[str] | None]] = deque((t, set(defined)) for t in graph.start_tasks)
    traversed: set[str] = set()
    while queue:
        name, known = queue.popleft()
        traversed.add(name)
        known = set(joins.get(name, set())) if known is None else known
        task = spec.task(name)
        path = f"spec.tasks.{name}"
        for where, value in _task_statements(task):
            if where.startswith("next["):
                continue
            errors += _undefined_vars(value, known, f"{path}.{where}")
        rolling |= known
        for index, transition in enumerate(task.next):
            branch = set(known)
            errors += _undefined_vars(transition.when, branch, f"{path}.next[{index}].when")
            for var, value in transition.publish:
                errors += _undefined_vars(value, branch, f"{path}.next[{index}].publish.{var}")
                branch.add(var)
            rolling |= branch
            for target in transition.do:
                if target in traversed or target not in spec.tasks:
                    continue
                if spec.tasks[target].join is None:
                    queue.append((target, branch))
                else:
                    joins[target] = joins.get(target, set()) | branch
                    queue.append((target, None))
    for name, value in spec.output:
        errors += _undefined_vars(value, rolling, f"spec.output.{name}")
        rolling.add(name)
    return errors


def _undefined_vars(value: Any, known: set[str], path: str) -> list[SpecError]:
    if value is None or (isinstance(value, str) and not has_expressions(value)):
        return []
    try:
        found = extract_ctx_vars(value)
    except Exception:  # an expression that does not parse: reported as an expression error
        return []
    return [
        SpecError(
            "context",
            f'Variable "{var}" is referenced before assignment.',
            path,
            _expression_with(value, var),
        )
        for var in sorted(found - known)
    ]


def _expression_with(value: Any, var: str) -> str:
    """The expression that reads ``var`` (Orquesta names it), else the whole value."""
    texts = (
        [value]
        if isinstance(value, str)
        else [
            v
            for v in (value.values() if isinstance(value, Mapping) else value or ())
            if isinstance(v, str)
        ]
    )
    for text in texts:
        for found in re.findall(r"<%.*?%>|{{.*?}}", text):
            if var in found:
                return str(found)
    return _shown(value)


# -- content (actions) ----------------------------------------------------------------------
def _required(schema: Mapping[str, Any]) -> bool:
    return bool(schema.get("required")) and "default" not in schema and not schema.get("immutable")


def _content(spec: WorkflowSpec, actions: ActionSchemas) -> list[SpecError]:
    errors = []
    for name, task in spec.tasks.items():
        action = task.action
        if not action or has_expressions(action):
            continue
        path = f"spec.tasks.{name}"
        if not _REF.fullmatch(action):
            message = f'The action reference "{action}" is not formatted correctly.'
            errors.append(SpecError("content", message, f"{path}.action"))
            continue
        schema = actions(action)
        if schema is None:
            errors.append(
                SpecError(
                    "content",
                    f'The action "{action}" is not registered in the database.',
                    f"{path}.action",
                )
            )
            continue
        given = task.input if task.input is not None else {}
        if not isinstance(given, Mapping) or has_expressions(str(list(given))):
            continue  # as st2: inputs that are not a mapping are a syntax error only
        missing = sorted(p for p, s in schema.items() if _required(s) and p not in given)
        unexpected = sorted(p for p in given if p not in schema)
        errors += [SpecError("content", f'Action "{action}" is missing required input "{p}".',
                             f"{path}.input") for p in missing]  # fmt: skip
        errors += [SpecError("content", f'Action "{action}" has unexpected input "{p}".',
                             f"{path}.input.{p}") for p in unexpected]  # fmt: skip
    return errors

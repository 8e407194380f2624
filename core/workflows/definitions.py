"""Workflow definitions: an ``orquesta`` action's YAML read, parsed and inspected once.

The same check serves the pack loader (``squall pack validate`` lists every problem with its
file and path) and the engine (a workflow with problems fails at start with all of them).
Definitions are cached by file and modification time, so an edited workflow is re-read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from core.models import Action
from core.packs.errors import PackError, PackFileError, YamlPath
from core.packs.index import ContentIndex
from core.packs.yamlfile import load_yaml_mapping
from core.params import ParameterError, merge_parameter_schemas
from core.runners.types import RUNNER_TYPES
from core.workflows.graph import WorkflowGraph
from core.workflows.inspect import ActionSchemas, inspect_workflow
from core.workflows.spec import SpecError, WorkflowSpec, parse_workflow

__all__ = ["ENGINE_CONTEXT", "WorkflowDefinition", "WorkflowDefinitions", "check_workflow"]

# Variables the engine puts in every workflow's context (st2's ``ctx().st2``, and ``parent``
# for a workflow run by another).
ENGINE_CONTEXT = ("st2", "parent")
_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True)
class WorkflowDefinition:
    action_ref: str
    path: Path
    spec: WorkflowSpec
    graph: WorkflowGraph
    mentions_kv: bool


def action_schemas(index: ContentIndex) -> ActionSchemas:
    """Parameter schemas by action ref, as inspection checks task inputs against them."""

    def lookup(ref: str) -> Mapping[str, Mapping[str, Any]] | None:
        action = index.actions.get(ref)
        runner = RUNNER_TYPES.get(action.runner_type) if action else None
        if action is None or runner is None:
            return None
        try:
            return merge_parameter_schemas(runner, action)
        except ParameterError:
            return dict(action.parameters)

    return lookup


def check_workflow(
    action: Action, index: ContentIndex | None
) -> tuple[WorkflowDefinition | None, list[PackError]]:
    """Read the workflow of ``action``; the definition, or None and every problem found.
    With ``index``, the result is kept there for the engine (``WorkflowDefinitions``)."""
    if index is None:
        definition, problems, _ = inspect_definition(action, index)
        return definition, problems
    return WorkflowDefinitions(index).get(action)


def inspect_definition(
    action: Action, index: ContentIndex | None
) -> tuple[WorkflowDefinition | None, list[PackError], list[dict[str, Any]]]:
    """The definition, or None with every problem: as pack errors (file, path, line) and as
    the ``errors`` st2 gives a workflow that fails inspection (sorted by kind and path)."""
    path = action.entry_point_path
    folder = action.metadata_file.parent if action.metadata_file else action.pack_path / "actions"
    shown = folder / action.entry_point
    if path is None:
        error = PackError(shown, "entry_point", "an orquesta action needs an entry_point")
        return None, [error], [{"type": "error", "message": str(error)}]
    try:
        doc = load_yaml_mapping(path, shown)
    except PackFileError as exc:
        return None, [exc.error], [{"type": "error", "message": str(exc.error)}]
    spec, errors = parse_workflow(doc.data, lenient=True)
    if spec is not None:
        errors += inspect_workflow(
            spec,
            actions=None if index is None else action_schemas(index),
            context=ENGINE_CONTEXT,
        )
    if spec is None or errors:
        entries = sorted((e.to_st2() for e in errors), key=lambda e: (e["type"], e["schema_path"]))
        return None, [_pack_error(shown, error, doc.lines) for error in errors], entries
    definition = WorkflowDefinition(
        action.ref, path, spec, WorkflowGraph(spec), "st2kv" in path.read_text("utf-8")
    )
    return definition, [], []


def _pack_error(shown: Path, error: SpecError, lines: Mapping[YamlPath, int]) -> PackError:
    where = error.spec_path.removeprefix("spec").removeprefix(".")
    parts: YamlPath = tuple(int(index) if index else name for name, index in _PART.findall(where))
    line = None
    while parts and line is None:
        line = lines.get(parts)
        parts = parts[:-1]
    return PackError(shown, where, f"{error.message} ({error.kind})", line)


_Inspected = tuple[WorkflowDefinition | None, list[PackError], list[dict[str, Any]]]


class WorkflowDefinitions:
    """Definitions by action, kept with the content (``ContentIndex.workflow_definitions``,
    filled when packs load), re-read when the workflow file changes."""

    def __init__(self, index: ContentIndex) -> None:
        self.index = index
        self._cache = cast(dict[str, tuple[int, _Inspected]], index.workflow_definitions)

    def get(self, action: Action) -> tuple[WorkflowDefinition | None, list[PackError]]:
        definition, problems, _ = self.inspect(action)
        return definition, problems

    def inspect(self, action: Action) -> _Inspected:
        """The definition, or None with its problems (pack errors, st2 ``errors`` entries)."""
        path = action.entry_point_path
        stamp = path.stat().st_mtime_ns if path is not None and path.is_file() else -1
        cached = self._cache.get(action.ref)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        found = inspect_definition(action, self.index)
        self._cache[action.ref] = (stamp, found)
        return found

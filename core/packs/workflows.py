"""Workflows: every ``orquesta`` action's YAML is checked once all packs are registered, so
task actions in other packs resolve. A workflow with problems keeps its action (st2 registers
it too) but each problem is reported with its file and path, and the engine refuses to start
it with the same list."""

from __future__ import annotations

from core.packs.content import PackContent
from core.packs.errors import PackError
from core.packs.index import ContentIndex
from core.workflows.definitions import check_workflow


class WorkflowKind:
    def load(self, content: PackContent, errors: list[PackError]) -> None:
        """Nothing of its own to load: workflows are the entry points of actions."""

    def register(self, content: PackContent, index: ContentIndex, errors: list[PackError]) -> None:
        """Registered with their actions."""

    def resolve(self, index: ContentIndex, errors: list[PackError]) -> None:
        for action in sorted(index.actions.values(), key=lambda a: a.ref):
            if action.runner_type != "orquesta" or not action.entry_point:
                continue
            path = action.entry_point_path
            if path is None or not path.is_file():
                continue  # reported by the action's own check
            errors.extend(check_workflow(action, index)[1])

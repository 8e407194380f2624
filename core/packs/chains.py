"""Action-chain definitions (``chain``, ``default``, ``vars``), checked as st2 checks them.

The chain file of every ``action-chain`` action is checked once all packs are registered; a
chain with problems keeps its action (st2 registers it too), each problem is reported with its
file and path, and running it fails with the same list.

st2's ``Node`` schema: ``name`` and ``ref`` are required; ``parameters`` (or the older
``params``, not both), ``on-success``, ``on-failure``, ``publish`` and ``notify`` are optional;
other keys are errors. ``default`` (or the first node) starts the chain; every node an
``on-success``/``on-failure``/``default`` names must exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.models import Action
from core.packs import schemacheck
from core.packs.errors import FileProblems, PackError, PackFileError
from core.packs.index import ContentIndex
from core.packs.yamlfile import load_yaml_mapping

RUNNER = "action-chain"

_NOTIFY_SECTION = {"type": "object"}
_NODE = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "ref": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "params": {"type": "object"},
        "parameters": {"type": "object"},
        "on-success": {"type": "string"},
        "on-failure": {"type": "string"},
        "publish": {"type": "object"},
        "notify": {
            "type": "object",
            "properties": {
                "on-complete": _NOTIFY_SECTION,
                "on-failure": _NOTIFY_SECTION,
                "on-success": _NOTIFY_SECTION,
            },
            "additionalProperties": False,
        },
    },
    "required": ["name", "ref"],
    "additionalProperties": False,
}
_CHAIN = schemacheck.validator_for(
    {
        "type": "object",
        "properties": {
            "chain": {"type": "array", "items": _NODE},
            "default": {"type": "string"},
            "vars": {"type": "object"},
        },
        "required": ["chain"],
        "additionalProperties": False,
    }
)


@dataclass(frozen=True)
class Node:
    name: str
    ref: str
    parameters: dict[str, Any] = field(default_factory=dict)
    on_success: str | None = None
    on_failure: str | None = None
    publish: dict[str, Any] = field(default_factory=dict)
    notify: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChainSpec:
    nodes: dict[str, Node]
    default: str | None
    vars: dict[str, Any] = field(default_factory=dict)

    def next(self, node: Node, succeeded: bool) -> Node | None:
        name = node.on_success if succeeded else node.on_failure
        return self.nodes[name] if name else None


def parse_chain(data: Mapping[str, Any], problems: FileProblems) -> ChainSpec | None:
    """The chain, or None with every problem added to ``problems``."""
    schemacheck.check(_CHAIN, dict(data), problems)
    if problems.count:
        return None
    nodes: dict[str, Node] = {}
    for index, raw in enumerate(data["chain"]):
        if raw.get("params") and raw.get("parameters"):
            message = 'Either "params" or "parameters" attribute needs to be provided, not both'
            problems.add(("chain", index), message)
        if raw["name"] in nodes:
            problems.add(("chain", index, "name"), f'node name "{raw["name"]}" is used twice')
        nodes[raw["name"]] = Node(
            name=raw["name"],
            ref=raw["ref"],
            parameters=dict(raw.get("parameters") or raw.get("params") or {}),
            on_success=raw.get("on-success") or None,
            on_failure=raw.get("on-failure") or None,
            publish=dict(raw.get("publish") or {}),
            notify=dict(raw.get("notify") or {}),
        )
    default = data.get("default") or (next(iter(nodes)) if nodes else None)
    for index, node in enumerate(nodes.values()):
        for key, target in (("on-success", node.on_success), ("on-failure", node.on_failure)):
            if target and target not in nodes:
                message = (
                    f'Unable to find node with name "{target}" referenced in "{key}" in task '
                    f'"{node.name}".'
                )
                problems.add(("chain", index, key), message)
    if default and default not in nodes:
        problems.add(
            ("default",), f'Unable to find node with name "{default}" referenced in "default".'
        )
    if problems.count:
        return None
    return ChainSpec(nodes, default, dict(data.get("vars") or {}))


def load_chain(action: Action) -> tuple[ChainSpec | None, list[PackError]]:
    """Read and check the chain file of ``action``."""
    path = action.entry_point_path
    folder = action.metadata_file.parent if action.metadata_file else action.pack_path / "actions"
    shown = folder / action.entry_point
    if path is None or not path.is_file():
        return None, [PackError(shown, "", "the chain file does not exist")]
    try:
        doc = load_yaml_mapping(path, shown)
    except PackFileError as exc:
        return None, [exc.error]
    errors: list[PackError] = []
    spec = parse_chain(doc.data, FileProblems(shown, errors, doc.lines))
    return spec, errors


class ChainKind:
    """Checks the chains of ``action-chain`` actions (their files are entry points)."""

    def load(self, content: object, errors: list[PackError]) -> None:
        """Nothing of its own to load."""

    def register(self, content: object, index: ContentIndex, errors: list[PackError]) -> None:
        """Registered with their actions."""

    def resolve(self, index: ContentIndex, errors: list[PackError]) -> None:
        for action in sorted(index.actions.values(), key=lambda a: a.ref):
            if action.runner_type == RUNNER and action.entry_point:
                errors.extend(load_chain(action)[1])

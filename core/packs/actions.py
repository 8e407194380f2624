"""Action metadata (``actions/*.yaml``): st2-format §2.1, checked field by field."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from core.models import Action, Pack, RunnerType
from core.packs import parameters, schemacheck
from core.packs.content import PackContent
from core.packs.errors import FileProblems, PackError
from core.packs.index import ContentIndex
from core.packs.metadata import load_all, read_metadata
from core.packs.paths import PackDir, UnsafePathError
from core.packs.yamlfile import YamlDoc
from core.runners.types import LATER_RUNNERS, RUNNER_TYPES, UNSUPPORTED_RUNNERS

ACTIONS_DIR = "actions"
# Runners whose entry point is the thing they run, and those that ignore it (as st2 does).
NEEDS_ENTRY_POINT = frozenset(
    {"local-shell-script", "remote-shell-script", "python-script", "orquesta"}
)
IGNORES_ENTRY_POINT = frozenset({"local-shell-cmd", "remote-shell-cmd"})

T = TypeVar("T")

_NOTIFY_TARGET = {
    "type": "object",
    "properties": {
        "message": {"type": "string"},
        "data": {"type": "object"},
        "routes": {"type": "array", "items": {"type": "string"}},
        "channels": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}
_ACTION = schemacheck.validator_for(
    {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "pattern": r"^\S+$"},
            "runner_type": {"type": "string"},
            "pack": {"type": "string"},
            "entry_point": {"type": "string"},
            "description": {"type": "string"},
            "enabled": {"type": "boolean"},
            "parameters": {"type": "object"},
            "output_schema": {"type": "object"},
            "notify": {
                "type": "object",
                "properties": {
                    "on-complete": _NOTIFY_TARGET,
                    "on-success": _NOTIFY_TARGET,
                    "on-failure": _NOTIFY_TARGET,
                },
                "additionalProperties": False,
            },
            "tags": {"type": "array", "items": {"type": "object"}},
            # Computed by st2 and ignored here, but valid in exported metadata.
            "ref": {"type": "string"},
            "uid": {"type": "string"},
            "id": {"type": "string"},
            "metadata_file": {"type": "string"},
        },
        "additionalProperties": False,  # as st2's ActionAPI: a misspelt key is an error
    }
)


def load_action(
    pack_dir: PackDir, pack: Pack, relative: str, errors: list[PackError]
) -> Action | None:
    """Load one action file; ``None`` (with every problem added to ``errors``) if invalid."""
    read = read_metadata(pack_dir, relative, errors)
    if read is None:
        return None
    doc, problems = read
    action = _check(doc, pack, pack_dir, pack_dir.resolve(relative), problems)
    return action if problems.count == 0 else None


def _check(
    doc: YamlDoc, pack: Pack, pack_dir: PackDir, path: Path, problems: FileProblems
) -> Action | None:
    data = doc.data
    schemacheck.check(_ACTION, data, problems)
    for key in ("name", "runner_type"):
        if key not in data:
            problems.add((key,), "required key is missing")
    _check_pack_field(data.get("pack"), pack.ref, problems)
    params = data.get("parameters", {})
    parameters.check_schema_map(params, problems, ("parameters",))
    if isinstance(params, dict):
        parameters.check_positions(params, problems)
    runner = _runner(data.get("runner_type"), problems)
    _check_entry_point(data, runner, pack_dir, problems)
    action = _build(data, pack, path)
    if action is not None and runner is not None:
        parameters.check_immutables(action.parameters, runner, problems)
        parameters.check_overrides(action, runner, problems)
    return action


def _check_pack_field(value: object, ref: str, problems: FileProblems) -> None:
    if isinstance(value, str) and value != ref:
        problems.add(("pack",), f"the action says pack {value!r} but it is in pack {ref!r}")


def _runner(name: object, problems: FileProblems) -> RunnerType | None:
    if not isinstance(name, str):
        return None  # missing or wrong type: already reported
    runner = RUNNER_TYPES.get(name)
    if runner is not None:
        return runner
    if name in LATER_RUNNERS:
        message = f"runner {name!r} is not available yet in this Squall version"
    elif name in UNSUPPORTED_RUNNERS:
        message = f"runner {name!r} is not supported by Squall (Windows hosts over WinRM)"
    else:
        message = f"unknown runner {name!r}; known runners: {', '.join(sorted(RUNNER_TYPES))}"
    problems.add(("runner_type",), message)
    return None


def _check_entry_point(
    data: dict[str, Any], runner: RunnerType | None, pack_dir: PackDir, problems: FileProblems
) -> None:
    entry_point = data.get("entry_point", "")
    if not isinstance(entry_point, str):
        return
    if runner is not None and runner.name in IGNORES_ENTRY_POINT and entry_point:
        return  # st2 loads it and never reads the file; neither do we
    if not entry_point:
        if runner is not None and runner.name in NEEDS_ENTRY_POINT:
            problems.add(("entry_point",), f"runner {runner.name!r} needs an entry_point")
        return
    message = entry_point_problem(pack_dir, entry_point)
    if message:
        problems.add(("entry_point",), message)


def entry_point_problem(pack_dir: PackDir, entry_point: str) -> str | None:
    """Why ``entry_point`` (relative to ``actions/``) is unusable, or None when it is fine."""
    if PurePosixPath(entry_point).is_absolute():
        return f"{entry_point!r} is absolute; give a path relative to actions/"
    try:
        target = pack_dir.resolve(f"{ACTIONS_DIR}/{entry_point}")
    except UnsafePathError as exc:
        return f"{entry_point!r} {exc.reason}"
    if not target.exists():
        return f"file actions/{entry_point} does not exist"
    if not target.is_file():
        return f"actions/{entry_point} is not a file"
    return None


def _build(data: dict[str, Any], pack: Pack, path: Path) -> Action | None:
    name, runner_type = data.get("name"), data.get("runner_type")
    if not isinstance(name, str) or not isinstance(runner_type, str):
        return None
    return Action(
        pack=pack.ref,
        name=name,
        runner_type=runner_type,
        pack_path=pack.path,
        entry_point=_get(data, "entry_point", str, ""),
        description=_get(data, "description", str, ""),
        enabled=_get(data, "enabled", bool, True),
        parameters=_get(data, "parameters", dict, {}),
        output_schema=_get(data, "output_schema", dict, {}),
        notify=_get(data, "notify", dict, {}),
        tags=tuple(t for t in _get(data, "tags", list, []) if isinstance(t, dict)),
        metadata_file=path,
    )


def _get(data: dict[str, Any], key: str, kind: type[T], default: T) -> T:
    value = data.get(key, default)
    return value if isinstance(value, kind) else default


class ActionKind:
    """Loads ``actions/*.yaml``; a name used twice in a pack keeps the first file."""

    def load(self, content: PackContent, errors: list[PackError]) -> None:
        content.actions.extend(load_all(content, ACTIONS_DIR, "action", load_action, errors))

    def register(self, content: PackContent, index: ContentIndex, errors: list[PackError]) -> None:
        for action in content.actions:
            index.actions[action.ref] = action

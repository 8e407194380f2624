"""Actions and runner types as loaded from packs (StackStorm action metadata, st2-format §2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# A parameter's schema as written in YAML: JSON-schema keywords plus st2's
# ``required``/``immutable``/``secret``/``position`` extensions.
ParamSchema = Mapping[str, Any]


@dataclass(frozen=True)
class RunnerType:
    """A runner's declared parameters; actions override a few of their attributes (§2.2)."""

    name: str
    parameters: Mapping[str, ParamSchema] = field(default_factory=dict)
    output_key: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Pack:
    ref: str
    name: str
    path: Path
    version: str = "0.0.0"
    description: str = ""
    author: str = ""
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # Pack config from ``configs/<ref>.yaml`` with schema defaults filled in.
    config: Mapping[str, Any] = field(default_factory=dict)
    config_schema: Mapping[str, ParamSchema] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    pack: str
    name: str
    runner_type: str
    pack_path: Path
    entry_point: str = ""
    description: str = ""
    enabled: bool = True
    parameters: Mapping[str, ParamSchema] = field(default_factory=dict)
    output_schema: Mapping[str, Any] = field(default_factory=dict)
    notify: Mapping[str, Any] = field(default_factory=dict)
    tags: tuple[Mapping[str, Any], ...] = ()
    metadata_file: Path | None = None

    @property
    def ref(self) -> str:
        return f"{self.pack}.{self.name}"

    @property
    def entry_point_path(self) -> Path | None:
        """Absolute path of the entry point (already checked to stay inside the pack)."""
        if not self.entry_point:
            return None
        return (self.pack_path / "actions" / self.entry_point).resolve()

    def to_api(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "name": self.name,
            "pack": self.pack,
            "runner_type": self.runner_type,
            "entry_point": self.entry_point,
            "description": self.description,
            "enabled": self.enabled,
            "parameters": {k: dict(v) for k, v in self.parameters.items()},
            "tags": [dict(t) for t in self.tags],
        }


def split_ref(ref: str) -> tuple[str, str]:
    """Split a resource ref on the first dot: ``st2.kv.get`` → (``st2``, ``kv.get``)."""
    pack, sep, name = ref.partition(".")
    if not sep or not pack or not name:
        raise ValueError(f"invalid reference {ref!r}: expected <pack>.<name>")
    return pack, name

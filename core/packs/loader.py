"""Loading packs from disk into a ContentIndex; a broken pack never stops the others."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.models import Pack
from core.packs.actions import ActionKind
from core.packs.aliases import AliasKind, load_site_aliases
from core.packs.chains import ChainKind
from core.packs.config import load_config
from core.packs.content import ContentKind, CrossPackKind, PackContent
from core.packs.errors import PackError
from core.packs.index import ContentIndex
from core.packs.manifest import read_manifest
from core.packs.paths import PackDir
from core.packs.policies import PolicyKind
from core.packs.rules import RuleKind
from core.packs.sensors import SensorKind
from core.packs.triggers import TriggerKind
from core.packs.workflows import WorkflowKind

MANIFEST = "pack.yaml"
# Later issues append a sensor kind here.
CONTENT_KINDS: tuple[ContentKind, ...] = (
    ActionKind(),
    TriggerKind(),
    SensorKind(),  # after TriggerKind: adds to the pack's trigger types before registration
    RuleKind(),
    PolicyKind(),
    AliasKind(),
    WorkflowKind(),
    ChainKind(),
)
# Refs of packs Squall ships; another path may not take them (st2 blocks them for user packs).
BUNDLED_REFS = frozenset({"core", "packs"})


@dataclass(frozen=True)
class LoadResult:
    index: ContentIndex
    errors: list[PackError] = field(default_factory=list)


def load_packs(
    paths: Sequence[Path], *, config_dir: Path | None, alias_paths: Sequence[Path] = ()
) -> LoadResult:
    """Load every pack under ``paths``; the first path is the bundled ``packs/`` folder.

    Each path is a pack directory (it has ``pack.yaml``) or a directory of packs. Errors are
    collected: a pack with a broken ``pack.yaml`` is skipped, a broken action is left out, and
    a pack ref seen twice keeps the first pack. Site aliases (``alias_paths``) come after
    every pack, before references are resolved.
    """
    result = LoadResult(ContentIndex())
    for position, path in enumerate(paths):
        for pack_dir in find_pack_dirs(path, result.errors):
            content = load_pack(pack_dir, config_dir=config_dir, errors=result.errors)
            if content is not None:
                _register(content, result, bundled=position == 0)
    load_site_aliases(alias_paths, result.index, result.errors)
    for kind in CONTENT_KINDS:
        if isinstance(kind, CrossPackKind):
            kind.resolve(result.index, result.errors)
    return result


def find_pack_dirs(path: Path, errors: list[PackError]) -> list[Path]:
    if not path.is_dir():
        reason = "does not exist" if not path.exists() else "is not a directory"
        errors.append(PackError(path, "", f"pack path {reason}"))
        return []
    if (path / MANIFEST).exists():
        return [path]
    found: list[Path] = []
    for child in sorted(path.iterdir()):
        if not child.is_dir() or child.name.startswith((".", "__")):
            continue
        if (child / MANIFEST).exists():
            found.append(child)
        else:
            errors.append(PackError(child / MANIFEST, "", "not a pack: pack.yaml is missing"))
    return found


def load_pack(
    path: Path, *, config_dir: Path | None, errors: list[PackError]
) -> PackContent | None:
    """Load and check one pack directory; ``None`` when its ``pack.yaml`` is unusable.

    Everything is checked even then, so one pass reports every problem of the pack.
    """
    pack_dir = PackDir.at(path)
    manifest = read_manifest(pack_dir, errors)
    config = load_config(pack_dir, manifest.ref, config_dir, errors)
    pack = Pack(
        ref=manifest.ref,
        name=manifest.name,
        path=pack_dir.root,
        version=manifest.version,
        description=manifest.description,
        author=manifest.author,
        metadata=manifest.metadata,
        config=config.values,
        config_schema=config.schema,
    )
    content = PackContent(pack, pack_dir)
    for kind in CONTENT_KINDS:
        kind.load(content, errors)
    return content if manifest.valid else None


def _register(content: PackContent, result: LoadResult, *, bundled: bool) -> None:
    pack = content.pack
    shown = content.directory.shown_file(MANIFEST)
    if pack.ref in BUNDLED_REFS and not bundled:
        message = f"pack ref {pack.ref!r} is reserved for Squall's bundled pack"
        result.errors.append(PackError(shown, "ref", message))
        return
    first = result.index.packs.get(pack.ref)
    if first is not None:
        message = f"pack ref {pack.ref!r} is already used by {first.path}; this pack is skipped"
        result.errors.append(PackError(shown, "ref", message))
        return
    result.index.packs[pack.ref] = pack
    for kind in CONTENT_KINDS:
        kind.register(content, result.index, result.errors)

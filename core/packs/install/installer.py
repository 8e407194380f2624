"""``squall pack install`` / ``pack remove``: the steps of st2's ``st2 pack install``.

Fetch the source, read its ``pack.yaml`` (an unusable one stops here), replace any earlier copy
in the first packs path (``<path>/<ref>``), report what would not load (those items are skipped
at start, the rest runs: content never stops the server), then build the pack's venv.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.packs.errors import PackError, PackFileError, only_errors
from core.packs.install.sources import PackSource, SourceError, fetch
from core.packs.install.venvs import remove_venv, setup_venv
from core.packs.manifest import PACK_REF, read_manifest
from core.packs.paths import PackDir
from core.packs.validate import validate_pack
from core.packs.yamlfile import load_yaml_mapping
from core.runners.pack_python import PackPythonSettings


@dataclass(frozen=True)
class InstallResult:
    ref: str
    path: Path
    venv: Path | None
    problems: list[PackError] = field(default_factory=list)

    @property
    def skipped(self) -> list[PackError]:
        """Items that will not load (the rest of the pack does)."""
        return only_errors(self.problems)


def install_pack(
    source: PackSource,
    packs_dir: Path,
    *,
    python: PackPythonSettings,
    context_paths: Sequence[Path] = (),
    config_dir: Path | None = None,
    pip_args: Sequence[str] = (),
    venv: bool = True,
    strict: bool = False,
) -> InstallResult:
    """``strict`` (the API's installs): a pack with items that would not load, or whose venv
    cannot be built, is refused and the earlier copy (if any) is put back: nothing changes."""
    packs_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".install-", dir=packs_dir) as scratch:
        checkout = _named(fetch(source, Path(scratch)), source)
        ref = _ref_of(checkout, source)
        target = packs_dir / ref
        previous = _replace(checkout, target, Path(scratch))
        try:
            problems = _problems(target, packs_dir, context_paths, config_dir)
            if strict and only_errors(problems):
                details = "; ".join(_relative(e, target) for e in only_errors(problems))
                raise InvalidPackError(f"{source}: pack {ref!r} would not load: {details}")
            built = setup_venv(python, ref, target, pip_args) if venv else None
        except BaseException:
            if strict:
                _restore(target, previous)
            raise
    return InstallResult(ref, target, built, problems)


class InvalidPackError(SourceError):
    """The fetched pack has items that would not load (strict installs refuse it)."""


def _problems(
    target: Path, packs_dir: Path, context_paths: Sequence[Path], config_dir: Path | None
) -> list[PackError]:
    others = [p for p in context_paths if p.resolve() != packs_dir.resolve()]
    found = validate_pack(target, config_dir=config_dir, context_paths=[*others, packs_dir])
    own_config = (config_dir / f"{target.name}.yaml").resolve() if config_dir else None
    return [e for e in found if e.file.resolve().is_relative_to(target.resolve())
            or e.file.resolve() == own_config]  # fmt: skip


def _relative(error: PackError, root: Path) -> str:
    """The problem with its file named inside the pack (the copy it names is gone)."""
    try:
        name = f"{root.name}/{error.file.resolve().relative_to(root.resolve())}"
    except ValueError:
        name = str(error.file)
    where = f"{name}: {error.yaml_path}: " if error.yaml_path else f"{name}: "
    return where + error.message


def remove_pack(ref: str, packs_dir: Path, *, python: PackPythonSettings) -> list[str]:
    """Delete the pack folder and its venv; what was removed, for the report."""
    removed = []
    target = packs_dir / ref
    if target.is_dir() and (target / "pack.yaml").exists():
        shutil.rmtree(target)
        removed.append(str(target))
    if remove_venv(python, ref):
        removed.append(f"venv of {ref}")
    if not removed:
        raise SourceError(f"pack {ref!r} is not installed in {packs_dir}")
    return removed


def _named(checkout: Path, source: PackSource) -> Path:
    """The checkout in a folder named as the pack will be: a pack.yaml without ``ref`` takes
    its ref from the folder name (as st2's), and the scratch folder's name means nothing."""
    try:
        data = load_yaml_mapping(checkout / "pack.yaml", checkout / "pack.yaml").data
    except (PackFileError, OSError):
        return checkout  # reported by _ref_of
    for candidate in (data.get("ref"), data.get("name"), _source_name(source)):
        if isinstance(candidate, str) and PACK_REF.fullmatch(candidate):
            named = checkout.parent / "named" / candidate
            named.parent.mkdir()
            return checkout.rename(named)
    return checkout


def _source_name(source: PackSource) -> str:
    name = source.location.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return name.removesuffix(".git").removeprefix("stackstorm-").replace("-", "_")


def _ref_of(checkout: Path, source: PackSource) -> str:
    if not (checkout / "pack.yaml").is_file():
        raise SourceError(f"{source}: no pack.yaml at the top of the source")
    errors: list[PackError] = []
    manifest = read_manifest(PackDir.at(checkout), errors)
    if not manifest.valid:
        details = "; ".join(f"{e.yaml_path or 'pack.yaml'}: {e.message}" for e in errors)
        raise SourceError(f"{source}: pack.yaml cannot be used: {details}")
    return manifest.ref


def _replace(checkout: Path, target: Path, scratch: Path) -> Path | None:
    """Move the new copy in; an earlier copy of the pack is replaced, as st2 does. Returns
    where the earlier copy waits (inside ``scratch``, deleted with it) for ``_restore``."""
    old = scratch / "previous"
    if target.exists():
        target.rename(old)
    try:
        checkout.rename(target)
    except BaseException:
        if old.exists():
            old.rename(target)
        raise
    return old if old.exists() else None


def _restore(target: Path, previous: Path | None) -> None:
    shutil.rmtree(target, ignore_errors=True)
    if previous is not None:
        previous.rename(target)

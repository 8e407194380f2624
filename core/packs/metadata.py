"""Reading the metadata files every content kind shares (``<folder>/*.yaml|*.yml``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

from core.models import Pack
from core.packs.content import PackContent
from core.packs.errors import FileProblems, PackError, PackFileError
from core.packs.paths import PackDir, UnsafePathError
from core.packs.yamlfile import YamlDoc, load_yaml_mapping

METADATA_SUFFIXES = (".yaml", ".yml")


def metadata_files(pack_dir: PackDir, folder: str, errors: list[PackError]) -> list[str]:
    """Pack-relative paths of the top-level ``<folder>/*.yaml|*.yml`` files, sorted."""
    try:
        directory = pack_dir.resolve(folder)
    except UnsafePathError as exc:
        errors.append(PackError(pack_dir.shown_file(folder), "", str(exc)))
        return []
    if not directory.is_dir():
        return []
    return sorted(
        f"{folder}/{entry.name}"
        for entry in directory.iterdir()
        if entry.suffix in METADATA_SUFFIXES and not entry.name.startswith(".")
    )


def read_metadata(
    pack_dir: PackDir, relative: str, errors: list[PackError]
) -> tuple[YamlDoc, FileProblems] | None:
    """The file's mapping and a problem collector for it; ``None`` if it cannot be read."""
    shown = pack_dir.shown_file(relative)
    try:
        doc = load_yaml_mapping(pack_dir.resolve(relative), shown)
    except UnsafePathError as exc:
        errors.append(PackError(shown, "", str(exc)))
        return None
    except PackFileError as exc:
        errors.append(exc.error)
        return None
    return doc, FileProblems(shown, errors, doc.lines)


def check_pack_field(value: object, ref: str, what: str, problems: FileProblems) -> None:
    if isinstance(value, str) and value != ref:
        problems.add(("pack",), f"the {what} says pack {value!r} but it is in pack {ref!r}")


class _Named(Protocol):
    @property
    def name(self) -> str: ...


Named = TypeVar("Named", bound=_Named)


def load_all(
    content: PackContent,
    folder: str,
    what: str,
    load_one: Callable[[PackDir, Pack, str, list[PackError]], Named | None],
    errors: list[PackError],
) -> list[Named]:
    """Every valid item of ``<folder>/*.yaml``; a name used twice keeps the first file."""
    seen: dict[str, str] = {}
    items: list[Named] = []
    for relative in metadata_files(content.directory, folder, errors):
        item = load_one(content.directory, content.pack, relative, errors)
        if item is None:
            continue
        if item.name in seen:
            shown = content.directory.shown_file(relative)
            message = f"{what} {item.name!r} is already defined in {seen[item.name]}"
            errors.append(PackError(shown, "name", message))
            continue
        seen[item.name] = relative
        items.append(item)
    return items


class _FromFile(Protocol):
    @property
    def metadata_file(self) -> Path | None: ...


Loaded = TypeVar("Loaded", bound=_FromFile)


def drop_unresolved(
    items: dict[str, Loaded],
    check: Callable[[Loaded, FileProblems], None],
    errors: list[PackError],
) -> None:
    """Run ``check`` on every item loaded from a file; drop those it finds a problem in."""
    for ref, item in list(items.items()):
        if item.metadata_file is None:
            continue  # made in code, not loaded: nothing to point errors at
        problems = FileProblems(item.metadata_file, errors)
        check(item, problems)
        if problems.count:
            del items[ref]

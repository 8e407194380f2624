"""Action alias metadata (``aliases/*.yaml``, st2-format §6.1), registered as ``<pack>.<name>``.

Pack aliases load like rules: shape first, ``action_ref`` once every pack is registered.
Site aliases (``settings.aliases.paths``) are loaded after every pack; a site file may name its
pack with ``pack:`` and defaults to the pack ``site``. Every format must compile; a ref defined
twice keeps the first one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from core.aliases.parser import AliasParseError, compile_format
from core.models import Alias, AliasApproval, AliasFormat, Pack
from core.packs import schemacheck
from core.packs.content import PackContent
from core.packs.errors import FileProblems, PackError, PackFileError
from core.packs.index import ContentIndex, UnknownActionError
from core.packs.metadata import METADATA_SUFFIXES, check_pack_field, load_all, read_metadata
from core.packs.paths import PackDir
from core.packs.yamlfile import load_yaml_mapping

ALIASES_DIR: Final = "aliases"
SITE_PACK: Final = "site"

_STRINGS = {"type": "array", "items": {"type": "string"}}
_FORMAT = {
    "oneOf": [
        {"type": "string"},
        {
            "type": "object",
            "properties": {
                "display": {"type": "string"},
                "representation": {"oneOf": [{"type": "string"}, _STRINGS]},
                "match_multiple": {"type": "boolean"},
            },
            "additionalProperties": False,
        },
    ]
}
_MESSAGE = {
    "type": "object",
    "properties": {
        "enabled": {"type": "boolean"},
        "format": {"type": "string"},
        "append_url": {"type": "boolean"},
        "extra": {"type": "object"},
    },
    "additionalProperties": False,
}
_ALIAS = schemacheck.validator_for(
    {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "pattern": r"^\S+$"},
            "pack": {"type": "string", "minLength": 1},
            "description": {"type": "string"},
            "enabled": {"type": "boolean"},
            "action_ref": {"type": "string", "minLength": 1},
            "formats": {"type": "array", "items": _FORMAT},
            "ack": _MESSAGE,
            "result": _MESSAGE,
            "extra": {"type": "object"},
            "immutable_parameters": {"type": "object"},
            "approval": {
                "type": "object",
                "properties": {
                    "approvers": {**_STRINGS, "minItems": 1},
                    "ttl": {"type": ["number", "string"]},
                    "requester_may_approve": {"type": "boolean"},
                },
                "required": ["approvers"],
                "additionalProperties": False,
            },
            # Computed by st2 and ignored here, but valid in exported metadata.
            "ref": {"type": "string"},
            "uid": {"type": "string"},
            "id": {"type": "string"},
            "metadata_file": {"type": "string"},
        },
        "additionalProperties": False,
    }
)
_REQUIRED = ("name", "action_ref")
DEFAULT_APPROVAL_TTL: Final = 3600.0
_TTL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_TTL_UNITS: Final = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def alias_from_data(data: dict[Any, Any], pack_ref: str, problems: FileProblems) -> Alias | None:
    """Check one alias document and build it; ``None`` (problems added) when it is invalid."""
    schemacheck.check(_ALIAS, data, problems)
    for key in _REQUIRED:
        if key not in data:
            problems.add((key,), "required key is missing")
    if problems.count:
        return None
    formats = _formats(data.get("formats", []), problems)
    approval = _approval(data.get("approval"), problems)
    if problems.count:
        return None
    return Alias(
        pack=pack_ref,
        name=data["name"],
        action_ref=data["action_ref"],
        description=data.get("description", ""),
        enabled=data.get("enabled", True),
        formats=formats,
        ack=data.get("ack", {}),
        result=data.get("result", {}),
        extra=data.get("extra", {}),
        immutable_parameters=data.get("immutable_parameters", {}),
        approval=approval,
        source=str(problems.file),
    )


def _formats(items: list[Any], problems: FileProblems) -> tuple[AliasFormat, ...]:
    formats: list[AliasFormat] = []
    for position, item in enumerate(items):
        if isinstance(item, str):
            formats.append(AliasFormat(item, (item,)))
            _check_pattern(item, ("formats", position), problems)
            continue
        display = item.get("display", "")
        written = item.get("representation", [])
        representations = [written] if isinstance(written, str) else list(written)
        for index, pattern in enumerate(representations):
            _check_pattern(pattern, ("formats", position, "representation", index), problems)
        # A help-only format (display, no representation) is still tried as "" (§6.1).
        formats.append(
            AliasFormat(display, tuple(representations) or ("",), item.get("match_multiple", False))
        )
    return tuple(formats)


def _check_pattern(pattern: str, path: tuple[str | int, ...], problems: FileProblems) -> None:
    try:
        compile_format(pattern)
    except AliasParseError as exc:
        problems.add(path, str(exc))


def _approval(data: Any, problems: FileProblems) -> AliasApproval | None:
    if data is None:
        return None
    for position, approver in enumerate(data["approvers"]):
        if not _valid_approver(approver):
            message = f'{approver!r}: expected a user name or "role:NAME"'
            problems.add(("approval", "approvers", position), message)
    ttl = parse_ttl(data.get("ttl", DEFAULT_APPROVAL_TTL))
    if ttl is None:
        problems.add(("approval", "ttl"), 'expected seconds > 0 or a duration like "30m"')
    if ttl is None or problems.count:
        return None
    return AliasApproval(
        approvers=tuple(data["approvers"]),
        ttl_seconds=ttl,
        requester_may_approve=data.get("requester_may_approve", False),
    )


def _valid_approver(approver: str) -> bool:
    """A user (name or ``adapter:workspace:user_id`` identity) or ``role:NAME``."""
    name = approver.removeprefix("role:")
    return bool(name) and not any(ch.isspace() for ch in name)


def parse_ttl(value: Any) -> float | None:
    """Seconds from ``90``, ``"90"``, ``"30m"``, ``"2h"``, ``"1d"``; None when invalid or <= 0."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        found = _TTL.match(str(value))
        if found is None:
            return None
        seconds = float(found.group(1)) * _TTL_UNITS[found.group(2)]
    return seconds if seconds > 0 else None


def load_alias(
    pack_dir: PackDir, pack: Pack, relative: str, errors: list[PackError]
) -> Alias | None:
    read = read_metadata(pack_dir, relative, errors)
    if read is None:
        return None
    doc, problems = read
    check_pack_field(doc.data.get("pack"), pack.ref, "alias", problems)
    return None if problems.count else alias_from_data(doc.data, pack.ref, problems)


def load_site_aliases(paths: Sequence[Path], index: ContentIndex, errors: list[PackError]) -> None:
    """Site alias folders, after every pack: ``*.yaml`` in each (a missing folder is skipped)."""
    for folder in paths:
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix in METADATA_SUFFIXES and not path.name.startswith("."):
                _load_site_file(path, index, errors)


def _load_site_file(path: Path, index: ContentIndex, errors: list[PackError]) -> None:
    try:
        doc = load_yaml_mapping(path, path)
    except PackFileError as exc:
        errors.append(exc.error)
        return
    problems = FileProblems(path, errors, doc.lines)
    pack = doc.data.get("pack", SITE_PACK)
    alias = alias_from_data(doc.data, pack if isinstance(pack, str) else SITE_PACK, problems)
    if alias is not None:
        _register(replace(alias, site=True), index, problems)


def _register(alias: Alias, index: ContentIndex, problems: FileProblems) -> None:
    first = index.aliases.get(alias.ref)
    if first is not None:
        problems.add(("name",), f"alias {alias.ref!r} is already defined in {first.source}")
        return
    index.aliases[alias.ref] = alias


class AliasKind:
    """Loads ``aliases/*.yaml``; a name used twice in a pack is an error, the first file wins."""

    def load(self, content: PackContent, errors: list[PackError]) -> None:
        content.aliases.extend(load_all(content, ALIASES_DIR, "alias", load_alias, errors))

    def register(self, content: PackContent, index: ContentIndex, errors: list[PackError]) -> None:
        for alias in content.aliases:
            index.aliases[alias.ref] = alias

    def resolve(self, index: ContentIndex, errors: list[PackError]) -> None:
        for ref, alias in list(index.aliases.items()):
            if not alias.source:
                continue  # made in code, not loaded: nothing to point errors at
            try:
                index.get_action(alias.action_ref)
            except UnknownActionError as exc:
                FileProblems(Path(alias.source), errors).add(("action_ref",), str(exc))
                del index.aliases[ref]

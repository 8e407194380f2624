"""``pack.yaml``: required fields, semver version and the pack ref rules (st2-format §1)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from core.packs import schemacheck
from core.packs.errors import FileProblems, PackError, PackFileError
from core.packs.paths import PackDir, UnsafePathError
from core.packs.yamlfile import load_yaml_mapping

PACK_REF = re.compile(r"[a-z0-9_]+")
# st2's semver pattern: MAJOR.MINOR.PATCH[-pre][+build].
SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?"
)
RESERVED_REFS = frozenset({"_global"})  # names the pack-overrides file, never a pack
REQUIRED_FIELDS = ("name", "description", "version", "author")

_STRINGS = {"type": "array", "items": {"type": "string"}}
_MANIFEST = schemacheck.validator_for(
    {
        "type": "object",
        "properties": {
            "ref": {"type": "string"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            # Numbers are accepted and normalised below: old packs wrote ``version: 0.2``.
            "version": {"type": ["string", "number"]},
            "author": {"type": "string"},
            "email": {"type": "string"},
            "keywords": _STRINGS,
            "stackstorm_version": {"type": "string"},
            "python_versions": {"type": "array", "items": {"enum": ["2", "3"]}},
            "dependencies": _STRINGS,
            "contributors": _STRINGS,
            "files": _STRINGS,
            "system": {"type": "object"},
        },
        "additionalProperties": True,  # st2 allows unknown keys in pack.yaml
    }
)


@dataclass(frozen=True)
class Manifest:
    ref: str
    name: str
    description: str
    version: str
    author: str
    metadata: dict[str, Any]
    # False when pack.yaml has errors: the pack is then checked but never registered.
    valid: bool = True


def read_manifest(pack_dir: PackDir, errors: list[PackError]) -> Manifest:
    """Parse and check ``pack.yaml``, adding its problems to ``errors``.

    Always returns a manifest so the rest of the pack can still be checked in the same pass;
    when pack.yaml is broken its fields are best guesses and ``valid`` is False.
    """
    shown = pack_dir.shown_file("pack.yaml")
    dir_name = pack_dir.shown.absolute().name
    try:
        doc = load_yaml_mapping(pack_dir.resolve("pack.yaml"), shown)
    except UnsafePathError as exc:
        errors.append(PackError(shown, "", str(exc)))
        return _unusable(dir_name, {})
    except PackFileError as exc:
        errors.append(exc.error)
        return _unusable(dir_name, {})
    problems = FileProblems(shown, errors, doc.lines)
    data = doc.data
    schemacheck.check(_MANIFEST, data, problems)
    for key in REQUIRED_FIELDS:
        if key not in data:
            problems.add((key,), "required key is missing")
    version = _version(data.get("version"), problems)
    ref = pack_ref(data, dir_name, problems)
    if problems.count:
        return _unusable(ref or dir_name, data, version)
    return Manifest(
        ref=ref,
        name=str(data["name"]),
        description=str(data["description"]),
        version=version,
        author=str(data["author"]),
        metadata=data,
    )


def _unusable(ref: str, data: dict[str, Any], version: str = "") -> Manifest:
    def text(key: str) -> str:
        value = data.get(key)
        return value if isinstance(value, str) else ""

    return Manifest(
        ref=ref,
        name=text("name") or ref,
        description=text("description"),
        version=version,
        author=text("author"),
        metadata=data,
        valid=False,
    )


def pack_ref(data: dict[str, Any], dir_name: str, problems: FileProblems) -> str:
    """``ref`` if given; else the directory name if it is a valid ref; else ``name``."""
    explicit = data.get("ref")
    if explicit is not None:
        ref = str(explicit)
        if isinstance(explicit, str) and not PACK_REF.fullmatch(ref):
            problems.add(("ref",), f"{ref!r} is not a valid pack ref (use a-z, 0-9 and _)")
    elif PACK_REF.fullmatch(dir_name):
        ref = dir_name
    elif isinstance(data.get("name"), str) and PACK_REF.fullmatch(data["name"]):
        ref = data["name"]
    else:
        problems.add(
            ("ref",),
            f"neither the directory name {dir_name!r} nor the name is a valid pack ref "
            "(a-z, 0-9 and _); add a ref",
        )
        return ""
    if ref in RESERVED_REFS:
        problems.add(("ref",), f"pack ref {ref!r} is reserved")
    return ref


def _version(value: object, problems: FileProblems) -> str:
    if value is None or isinstance(value, bool):
        return ""  # missing (reported above) or wrong type (reported by the schema)
    # st2 normalises pre-2.1 versions such as ``0.2`` to ``0.2.0``.
    version = str(value)
    if version.count(".") == 1:
        version += ".0"
    if isinstance(value, str | int | float) and not SEMVER.fullmatch(version):
        problems.add(
            ("version",), f"{value!r} is not a semver version (MAJOR.MINOR.PATCH, e.g. 1.0.0)"
        )
    return version

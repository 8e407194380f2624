"""Trigger type metadata (``triggers/*.yaml``): st2-format §1, registered as ``<pack>.<name>``.

Metadata files are read with the helpers in ``core/packs/metadata.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import SchemaError

from core.models import Pack, TriggerType
from core.packs import schemacheck
from core.packs.content import PackContent
from core.packs.errors import FileProblems, PackError
from core.packs.index import ContentIndex
from core.packs.metadata import check_pack_field, load_all, read_metadata
from core.packs.paths import PackDir
from core.params.validate import to_draft4

TRIGGERS_DIR = "triggers"
SCHEMA_KEYS = ("parameters_schema", "payload_schema")

_TRIGGER_TYPE = schemacheck.validator_for(
    {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "pattern": r"^\S+$"},
            "pack": {"type": "string"},
            "description": {"type": "string"},
            "parameters_schema": {"type": "object"},
            "payload_schema": {"type": "object"},
            "tags": {"type": "array", "items": {"type": "object"}},
            # Computed by st2 and ignored here, but valid in exported metadata.
            "ref": {"type": "string"},
            "uid": {"type": "string"},
            "id": {"type": "string"},
            "metadata_file": {"type": "string"},
        },
        "additionalProperties": False,
    }
)


def load_trigger_type(
    pack_dir: PackDir, pack: Pack, relative: str, errors: list[PackError]
) -> TriggerType | None:
    """Load one trigger type file; ``None`` (with every problem in ``errors``) if invalid."""
    read = read_metadata(pack_dir, relative, errors)
    if read is None:
        return None
    doc, problems = read
    return trigger_type_from(doc.data, pack, problems)


def trigger_type_from(
    data: Mapping[str, Any], pack: Pack, problems: FileProblems
) -> TriggerType | None:
    """A checked trigger type from its metadata (a file, or an entry of a sensor's file)."""
    schemacheck.check(_TRIGGER_TYPE, dict(data), problems)
    if "name" not in data:
        problems.add(("name",), "required key is missing")
    check_pack_field(data.get("pack"), pack.ref, "trigger type", problems)
    for key in SCHEMA_KEYS:
        _check_json_schema(data.get(key), key, problems)
    if problems.count:
        return None
    return TriggerType(
        pack=pack.ref,
        name=data["name"],
        description=data.get("description", ""),
        # Stored in draft 4 form (st2's ``required: true`` lifted), like the built-in types.
        parameters_schema=to_draft4(data.get("parameters_schema", {})),
        payload_schema=to_draft4(data.get("payload_schema", {})),
        tags=tuple(data.get("tags", [])),
        metadata_file=problems.file,
    )


def _check_json_schema(schema: object, key: str, problems: FileProblems) -> None:
    if not isinstance(schema, Mapping):
        return  # absent, or a wrong type already reported
    try:
        Draft4Validator.check_schema(to_draft4(schema))
    except SchemaError as exc:
        path = tuple(str(p) if not isinstance(p, int) else p for p in exc.absolute_path)
        problems.add((key, *path), f"invalid JSON schema: {exc.message}")


class TriggerKind:
    """Loads ``triggers/*.yaml``; a name used twice in a pack keeps the first file."""

    def load(self, content: PackContent, errors: list[PackError]) -> None:
        content.trigger_types.extend(
            load_all(content, TRIGGERS_DIR, "trigger type", load_trigger_type, errors)
        )

    def register(self, content: PackContent, index: ContentIndex, errors: list[PackError]) -> None:
        for trigger in content.trigger_types:
            if trigger.ref in index.trigger_types:
                # Only the bundled core pack can collide, with a built-in type.
                file = trigger.metadata_file or content.directory.shown
                message = f"trigger type {trigger.ref!r} is built in and cannot be redefined"
                errors.append(PackError(file, "name", message))
                continue
            index.trigger_types[trigger.ref] = trigger

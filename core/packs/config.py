"""Pack config: ``config.schema.yaml`` in the pack, values in ``<config_dir>/<ref>.yaml``.

Defaults from the schema fill missing keys recursively, then the values are validated with
st2's flavour of JSON Schema (``required: true`` on a property, draft 3 style). Values that are
Jinja templates (``{{ st2kv.system.x }}``) are dynamic and rendered later, so they are neither
changed nor type-checked here.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, validators
from jsonschema.exceptions import ValidationError

from core.packs import parameters, schemacheck
from core.packs.errors import FileProblems, PackError, PackFileError, YamlPath
from core.packs.paths import PackDir, UnsafePathError, resolve_inside
from core.packs.yamlfile import YamlDoc, load_yaml_mapping

SCHEMA_FILE = "config.schema.yaml"
MISSING_REQUIRED = "required key is missing and the schema has no default"


@dataclass(frozen=True)
class PackConfig:
    schema: dict[str, Any] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


def load_config(
    pack_dir: PackDir, ref: str, config_dir: Path | None, errors: list[PackError]
) -> PackConfig:
    """Read the schema and the config, fill defaults, and report every problem."""
    schema = _load_schema(pack_dir, errors)
    config_file = config_dir / f"{ref}.yaml" if config_dir is not None else None
    doc = _load_values(config_dir, ref, errors)
    values = dict(doc.data) if doc is not None else {}
    if schema is None:
        return PackConfig({}, values)
    fill_defaults(schema, values)
    if config_file is not None:
        problems = FileProblems(config_file, errors, doc.lines if doc else None)
        for path, message in config_problems(schema, values):
            if message == MISSING_REQUIRED:  # checked when an action reads it, as in st2
                problems.warn(path, message + "; actions that read it fail until it is set")
            else:
                problems.add(path, message)
    return PackConfig(schema, values)


def _load_schema(pack_dir: PackDir, errors: list[PackError]) -> dict[str, Any] | None:
    shown = pack_dir.shown_file(SCHEMA_FILE)
    doc = _read(lambda: pack_dir.resolve(SCHEMA_FILE), shown, errors, optional=True)
    if doc is None:
        return None
    problems = FileProblems(shown, errors, doc.lines)
    if not parameters.check_schema_map(doc.data, problems, ()):
        return None  # validating values against a broken schema would only add noise
    return doc.data


def _load_values(config_dir: Path | None, ref: str, errors: list[PackError]) -> YamlDoc | None:
    if config_dir is None:
        return None
    name = f"{ref}.yaml"
    return _read(lambda: resolve_inside(config_dir, name), config_dir / name, errors, optional=True)


def _read(
    locate: Callable[[], Path], shown: Path, errors: list[PackError], *, optional: bool
) -> YamlDoc | None:
    try:
        path = locate()
        if optional and not path.exists():
            return None
        return load_yaml_mapping(path, shown, allow_empty=True)
    except UnsafePathError as exc:
        errors.append(PackError(shown, "", str(exc)))
    except PackFileError as exc:
        errors.append(exc.error)
    return None


def fill_defaults(schema: Mapping[str, Any], values: dict[str, Any]) -> None:
    """Copy schema defaults into missing keys, descending into nested object properties."""
    for key, prop in schema.items():
        if not isinstance(prop, Mapping):
            continue
        if key not in values and "default" in prop:
            values[key] = copy.deepcopy(prop["default"])
        nested = prop.get("properties")
        if prop.get("type") == "object" and isinstance(nested, Mapping):
            # st2 creates the object so its nested defaults apply even when it was omitted.
            if key not in values:
                values[key] = {}
            if isinstance(values[key], dict):
                fill_defaults(nested, values[key])
        items = prop.get("items")
        if isinstance(values.get(key), list) and isinstance(items, Mapping):
            _fill_items(items, values[key])


def _fill_items(items: Mapping[str, Any], values: list[Any]) -> None:
    nested = items.get("properties")
    if not isinstance(nested, Mapping):
        return
    for item in values:
        if isinstance(item, dict):
            fill_defaults(nested, item)


def config_problems(
    schema: Mapping[str, Any], values: Mapping[str, Any]
) -> Iterator[tuple[YamlPath, str]]:
    """(yaml path, message) for each value that breaks the schema; templates are skipped."""
    validator = _ConfigValidator(
        {"type": "object", "properties": dict(schema)},
        format_checker=Draft4Validator.FORMAT_CHECKER,
    )
    for path, message in schemacheck.schema_problems(validator, values):
        if not _is_template(_lookup(values, path)):
            yield path, message


def _properties(
    validator: Any, properties: Mapping[str, Any], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    yield from Draft4Validator.VALIDATORS["properties"](validator, properties, instance, schema)
    if not validator.is_type(instance, "object"):
        return
    for name, prop in properties.items():
        if isinstance(prop, Mapping) and prop.get("required") is True and name not in instance:
            yield ValidationError(MISSING_REQUIRED, path=[name])


def _ignore(*_args: Any) -> Iterator[ValidationError]:
    return iter(())


# st2's validator: ``required`` is a boolean on each property (checked by ``properties``).
_ConfigValidator = validators.extend(
    Draft4Validator, {"properties": _properties, "required": _ignore}
)


def _lookup(values: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        try:
            values = values[part]
        except (KeyError, IndexError, TypeError):
            return None
    return values


def _is_template(value: object) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)

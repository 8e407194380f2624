"""Pack config: schema defaults, st2-style required, validation with file and path."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from core.packs import PackError
from core.packs.config import MISSING_REQUIRED, config_problems, fill_defaults
from core.packs.loader import load_packs
from core.packs.validate import validate_pack

MISSING = MISSING_REQUIRED + "; actions that read it fail until it is set"

MANIFEST = "ref: demo\nname: demo\ndescription: d\nversion: 1.0.0\nauthor: me\n"
SCHEMA = """\
    api_key: {type: string, required: true, secret: true}
    region: {type: string, enum: [eu, us], default: eu}
    port: {type: integer, default: 443}
    limits:
      type: object
      properties:
        burst: {type: integer, default: 10}
        mode: {type: string, required: true}
    servers:
      type: array
      items:
        type: object
        properties:
          weight: {type: integer, default: 1}
"""


def make(tmp_path: Path, schema: str | None, config: str | None) -> tuple[Path, Path]:
    pack = tmp_path / "demo"
    pack.mkdir()
    (pack / "pack.yaml").write_text(MANIFEST)
    if schema is not None:
        (pack / "config.schema.yaml").write_text(textwrap.dedent(schema))
    configs = tmp_path / "configs"
    configs.mkdir()
    if config is not None:
        (configs / "demo.yaml").write_text(textwrap.dedent(config))
    return pack, configs


def loaded_config(tmp_path: Path, schema: str | None, config: str | None) -> dict[str, Any]:
    pack, configs = make(tmp_path, schema, config)
    result = load_packs([pack], config_dir=configs)
    return dict(result.index.packs["demo"].config)


def test_defaults_fill_missing_keys_recursively(tmp_path: Path) -> None:
    config = """\
        api_key: k
        limits: {mode: fast}
        servers: [{name: a}, {name: b, weight: 5}]
    """
    assert loaded_config(tmp_path, SCHEMA, config) == {
        "api_key": "k",
        "region": "eu",
        "port": 443,
        "limits": {"mode": "fast", "burst": 10},
        "servers": [{"name": "a", "weight": 1}, {"name": "b", "weight": 5}],
    }


def test_defaults_are_copies() -> None:
    schema = {"tags": {"type": "array", "default": ["a"]}}
    first: dict[str, Any] = {}
    fill_defaults(schema, first)
    first["tags"].append("b")
    second: dict[str, Any] = {}
    fill_defaults(schema, second)
    assert second == {"tags": ["a"]}


def test_missing_nested_object_is_created_for_its_defaults() -> None:
    values: dict[str, Any] = {}
    fill_defaults({"o": {"type": "object", "properties": {"x": {"default": 1}}}}, values)
    assert values == {"o": {"x": 1}}


def test_validation_errors_name_the_config_file_and_path(tmp_path: Path) -> None:
    config = """\
        region: mars
        port: "443"
        limits: {burst: many}
    """
    pack, configs = make(tmp_path, SCHEMA, config)
    file = configs / "demo.yaml"
    assert validate_pack(pack, config_dir=configs) == [
        PackError(file, "region", "expected one of 'eu', 'us'; got string 'mars'"),
        PackError(file, "port", "expected an integer, got string '443'"),
        PackError(file, "limits.burst", "expected an integer, got string 'many'"),
        # Warnings: the pack loads, an action that reads the key fails when it runs (as st2).
        PackError(file, "limits.mode", MISSING, warning=True),
        PackError(file, "api_key", MISSING, warning=True),
    ]


def test_missing_config_file_reports_required_keys(tmp_path: Path) -> None:
    pack, configs = make(tmp_path, "token: {type: string, required: true}\n", None)
    assert validate_pack(pack, config_dir=configs) == [
        PackError(configs / "demo.yaml", "token", MISSING, warning=True)
    ]


def test_without_a_config_dir_only_defaults_apply(tmp_path: Path) -> None:
    pack, _ = make(tmp_path, SCHEMA, None)
    result = load_packs([pack], config_dir=None)
    assert result.errors == []
    assert result.index.packs["demo"].config == {
        "region": "eu",
        "port": 443,
        "limits": {"burst": 10},
    }


def test_templates_are_kept_and_not_type_checked(tmp_path: Path) -> None:
    config = """\
        api_key: "{{ st2kv.system.api_key | decrypt_kv }}"
        port: "{{ st2kv.system.port }}"
        limits: {mode: "{% if true %}fast{% endif %}"}
    """
    pack, configs = make(tmp_path, SCHEMA, config)
    result = load_packs([pack], config_dir=configs)
    assert result.errors == []
    values = result.index.packs["demo"].config
    assert values["port"] == "{{ st2kv.system.port }}"
    assert values["api_key"] == "{{ st2kv.system.api_key | decrypt_kv }}"


def test_config_without_schema_is_taken_as_is(tmp_path: Path) -> None:
    assert loaded_config(tmp_path, None, "anything: [1, 2]\n") == {"anything": [1, 2]}


def test_empty_config_file_is_an_empty_config(tmp_path: Path) -> None:
    assert loaded_config(tmp_path, "a: {type: integer, default: 1}\n", "") == {"a": 1}


def test_config_must_be_a_mapping(tmp_path: Path) -> None:
    pack, configs = make(tmp_path, None, "- a\n")
    assert validate_pack(pack, config_dir=configs) == [
        PackError(configs / "demo.yaml", "", "expected a mapping at the top level, got a list")
    ]


def test_invalid_schema_is_reported_and_values_are_not_checked(tmp_path: Path) -> None:
    schema = """\
        host: {type: str, requried: true}
        port: 8080
        'bad key': {type: string}
    """
    pack, configs = make(tmp_path, schema, "host: 5\n")
    file = pack / "config.schema.yaml"
    assert validate_pack(pack, config_dir=configs) == [
        PackError(
            file,
            "host.type",
            "expected one of 'array', 'boolean', 'integer', 'null', 'number', 'object', "
            "'string'; got string 'str'",
        ),
        PackError(file, "host.requried", "unknown key; did you mean 'required'?"),
        PackError(file, "port", "expected an object (a parameter schema), got integer 8080"),
        PackError(file, "bad key", "invalid name: use letters, digits and _ only"),
    ]


def test_config_problems_is_pure() -> None:
    schema = {"n": {"type": "integer", "required": True}, "s": {"type": "string"}}
    assert list(config_problems(schema, {"s": 1})) == [
        (("s",), "expected a string, got integer 1"),
        (("n",), "required key is missing and the schema has no default"),
    ]

"""pack.yaml: required fields, semver, and the ref rules (st2-format §1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.packs import PackError
from core.packs.errors import FileProblems
from core.packs.loader import load_packs
from core.packs.manifest import pack_ref, read_manifest
from core.packs.paths import PackDir
from core.packs.validate import validate_pack

VALID = "name: demo\ndescription: d\nversion: 1.0.0\nauthor: me\n"


def manifest_errors(tmp_path: Path, text: str, dir_name: str = "demo") -> list[PackError]:
    pack = tmp_path / dir_name
    pack.mkdir()
    (pack / "pack.yaml").write_text(text)
    errors: list[PackError] = []
    read_manifest(PackDir(Path(dir_name), pack.resolve()), errors)
    return errors


def ref_of(data: dict[str, object], dir_name: str) -> tuple[str, list[str]]:
    errors: list[PackError] = []
    ref = pack_ref(data, dir_name, FileProblems(Path("pack.yaml"), errors))
    return ref, [f"{e.yaml_path}: {e.message}" for e in errors]


def test_valid_manifest_keeps_unknown_keys(tmp_path: Path) -> None:
    pack = tmp_path / "demo"
    pack.mkdir()
    (pack / "pack.yaml").write_text(VALID + "x_extra: [1]\nkeywords: [a]\n")
    errors: list[PackError] = []
    manifest = read_manifest(PackDir.at(pack), errors)
    assert errors == []
    assert manifest.valid
    assert (manifest.ref, manifest.name, manifest.version) == ("demo", "demo", "1.0.0")
    assert manifest.metadata["x_extra"] == [1]


def test_missing_required_fields_are_all_reported(tmp_path: Path) -> None:
    errors = manifest_errors(tmp_path, "ref: demo\n")
    assert [(e.file, e.yaml_path, e.message) for e in errors] == [
        (Path("demo/pack.yaml"), key, "required key is missing")
        for key in ("name", "description", "version", "author")
    ]


def test_missing_pack_yaml(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    errors: list[PackError] = []
    assert not read_manifest(PackDir(Path("demo"), tmp_path / "demo"), errors).valid
    assert errors == [PackError(Path("demo/pack.yaml"), "", "file does not exist")]


@pytest.mark.parametrize(
    ("explicit", "dir_name", "name", "expected"),
    [
        ("hello_st2", "Hello-Dir", "Hello StackStorm", "hello_st2"),  # ref wins
        (None, "my_pack", "Some Name", "my_pack"),  # else the directory name
        (None, "My-Pack", "my_pack_name", "my_pack_name"),  # else the name
    ],
)
def test_ref_rules(explicit: str | None, dir_name: str, name: str, expected: str) -> None:
    data: dict[str, object] = {"name": name}
    if explicit is not None:
        data["ref"] = explicit
    assert ref_of(data, dir_name) == (expected, [])


def test_no_usable_ref_is_an_error() -> None:
    assert ref_of({"name": "Has Spaces"}, "dash-dir")[1] == [
        "ref: neither the directory name 'dash-dir' nor the name is a valid pack ref "
        "(a-z, 0-9 and _); add a ref"
    ]


@pytest.mark.parametrize("bad", ["Hello", "with-dash", "a.b", "sp ace", "x\n"])
def test_explicit_ref_must_match_the_pattern(bad: str) -> None:
    message = f"ref: {bad!r} is not a valid pack ref (use a-z, 0-9 and _)"
    assert ref_of({"ref": bad}, "dir")[1] == [message]


def test_global_is_reserved() -> None:
    assert ref_of({"ref": "_global"}, "dir")[1] == ["ref: pack ref '_global' is reserved"]
    assert ref_of({}, "_global")[1] == ["ref: pack ref '_global' is reserved"]


@pytest.mark.parametrize(
    ("written", "version"),
    [("1.2.3", "1.2.3"), ("0.2", "0.2.0"), ("'1.0'", "1.0.0"), ("1.0.0-rc.1+b5", "1.0.0-rc.1+b5")],
)
def test_version_semver_and_old_style_normalised(
    tmp_path: Path, written: str, version: str
) -> None:
    pack = tmp_path / "demo"
    pack.mkdir()
    (pack / "pack.yaml").write_text(VALID.replace("1.0.0", written))
    errors: list[PackError] = []
    manifest = read_manifest(PackDir.at(pack), errors)
    assert errors == []
    assert manifest.valid and manifest.version == version


@pytest.mark.parametrize("written", ["one", "1", "1.2.3.4", "01.2.3", "v1.0.0"])
def test_invalid_versions(tmp_path: Path, written: str) -> None:
    errors = manifest_errors(tmp_path, VALID.replace("1.0.0", f"'{written}'"))
    assert [(e.yaml_path, e.message) for e in errors] == [
        ("version", f"{written!r} is not a semver version (MAJOR.MINOR.PATCH, e.g. 1.0.0)")
    ]


def test_field_types_are_checked(tmp_path: Path) -> None:
    text = VALID + "keywords: one\npython_versions: [2]\nemail: [a]\n"
    errors = manifest_errors(tmp_path, text)
    assert [(e.yaml_path, e.message) for e in errors] == [
        ("email", "expected a string, got an array"),
        ("keywords", "expected an array, got string 'one'"),
        ("python_versions[0]", "expected one of '2', '3'; got integer 2"),
    ]


def test_broken_manifest_still_checks_the_rest_but_skips_the_pack(tmp_path: Path) -> None:
    pack = tmp_path / "demo"
    (pack / "actions").mkdir(parents=True)
    (pack / "pack.yaml").write_text("name: demo\n")
    (pack / "actions" / "x.yaml").write_text("name: x\nrunner_type: nope\n")
    result = load_packs([pack], config_dir=None)
    assert [(e.file.name, e.yaml_path) for e in result.errors] == [
        ("pack.yaml", "description"),
        ("pack.yaml", "version"),
        ("pack.yaml", "author"),
        ("x.yaml", "runner_type"),
    ]
    assert result.index.packs == {}
    assert result.index.actions == {}


def test_unreadable_manifest_uses_the_directory_name_for_the_rest(tmp_path: Path) -> None:
    pack = tmp_path / "demo"
    (pack / "actions").mkdir(parents=True)
    (pack / "pack.yaml").write_text("name: [oops\n")
    (pack / "actions" / "x.yaml").write_text("name: x\npack: demo\nrunner_type: noop\n")
    errors = validate_pack(pack)
    assert [(e.file.name, e.message.split(":")[0]) for e in errors] == [
        ("pack.yaml", "invalid YAML")
    ]

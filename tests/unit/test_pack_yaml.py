"""Safe YAML loading for pack files (security.md §4.3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.packs.errors import PackError, PackFileError
from core.packs.yamlfile import MAX_YAML_BYTES, load_yaml_mapping


def load(tmp_path: Path, text: str | bytes, **kwargs: bool) -> dict[object, object]:
    return dict(load_yaml_mapping(write(tmp_path, text), Path("x.yaml"), **kwargs).data)


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "x.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str | bytes) -> PackError:
    with pytest.raises(PackFileError) as caught:
        load(tmp_path, text)
    return caught.value.error


def test_python_tag_is_refused_and_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f'a: !!python/object/apply:os.system ["touch {marker}"]\n'
    error = error_of(tmp_path, text)
    assert error == PackError(
        Path("x.yaml"),
        "",
        "unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system': "
        "only plain YAML is allowed in packs",
    )
    assert error.line == 1
    assert not marker.exists()


@pytest.mark.parametrize(
    "tag", ["!!python/object:builtins.dict {}", "!!python/name:os.system", "!custom 1"]
)
def test_other_unsafe_or_unknown_tags_are_refused(tmp_path: Path, tag: str) -> None:
    assert "unsupported YAML tag" in error_of(tmp_path, f"a: {tag}\n").message


def test_yaml_11_booleans_as_pyyaml_reads_them(tmp_path: Path) -> None:
    data = load(tmp_path, "a: yes\nb: no\nc: on\nd: off\ne: 'yes'\nf: True\n")
    assert data == {"a": True, "b": False, "c": True, "d": False, "e": "yes", "f": True}


def test_unquoted_on_key_is_a_boolean_key(tmp_path: Path) -> None:
    assert load(tmp_path, "on: 1\n") == {True: 1}


def test_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    text = "a: '" + "x" * MAX_YAML_BYTES + "'\n"
    assert error_of(tmp_path, text).message == (
        f"file is larger than the {MAX_YAML_BYTES} byte limit"
    )


def test_file_just_under_the_limit_loads(tmp_path: Path) -> None:
    text = "a: '" + "x" * (MAX_YAML_BYTES - 10) + "'\n"
    assert len(str(load(tmp_path, text)["a"])) == MAX_YAML_BYTES - 10


@pytest.mark.parametrize(
    ("text", "got"), [("- a\n- b\n", "list"), ("just a string\n", "scalar"), ("42\n", "scalar")]
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, got: str) -> None:
    message = f"expected a mapping at the top level, got a {got}"
    assert error_of(tmp_path, text).message == message


def test_empty_file_is_an_error_unless_allowed(tmp_path: Path) -> None:
    assert error_of(tmp_path, "# only a comment\n").message == (
        "the file is empty; expected a mapping"
    )
    assert load(tmp_path, "", allow_empty=True) == {}


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    error = error_of(tmp_path, "a: 1\nb: [1, 2\n")
    assert error.message.startswith("invalid YAML: while parsing a flow sequence")
    assert error.line == 3


def test_invalid_utf8_is_refused(tmp_path: Path) -> None:
    assert error_of(tmp_path, b"a: \xff\n").message.startswith("not valid UTF-8")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(PackFileError, match="file does not exist"):
        load_yaml_mapping(tmp_path / "nope.yaml", Path("nope.yaml"))
    with pytest.raises(PackFileError, match="not a regular file"):
        load_yaml_mapping(tmp_path, Path("dir"))


def test_alias_bomb_is_refused_before_anything_expands_it(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 8):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    error = error_of(tmp_path, "\n".join(lines) + "\n")
    assert error.message == "YAML aliases expand to too many nodes (alias bomb?)"


def test_ordinary_anchors_and_merge_keys_load(tmp_path: Path) -> None:
    text = "base: &base {type: string}\nparam:\n  <<: *base\n  required: true\n"
    assert load(tmp_path, text)["param"] == {"type": "string", "required": True}


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    message = "a YAML alias refers to itself (recursive structure)"
    assert error_of(tmp_path, "a: &a [1, *a]\n").message == message


def test_deep_nesting_is_refused(tmp_path: Path) -> None:
    text = "a: " + "[" * 500 + "]" * 500 + "\n"
    assert error_of(tmp_path, text).message == "nested deeper than 100 levels"


def test_lines_are_recorded_per_yaml_path(tmp_path: Path) -> None:
    text = "name: x\nparameters:\n  cmd:\n    type: string\ntags:\n  - name: a\n"
    doc = load_yaml_mapping(write(tmp_path, text), Path("x.yaml"))
    assert doc.lines == {
        ("name",): 1,
        ("parameters",): 2,
        ("parameters", "cmd"): 3,
        ("parameters", "cmd", "type"): 4,
        ("tags",): 5,
        ("tags", 0): 6,
        ("tags", 0, "name"): 6,
    }

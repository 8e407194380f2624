"""PackError: what, where, and how it prints."""

from __future__ import annotations

from pathlib import Path

from core.packs.errors import FileProblems, PackError, format_path


def test_format_path() -> None:
    assert format_path(()) == ""
    assert format_path(("parameters", "cmd", "type")) == "parameters.cmd.type"
    assert format_path(("tags", 0, "name")) == "tags[0].name"


def test_str_names_file_and_yaml_path() -> None:
    error = PackError(Path("packs/foo/actions/bar.yaml"), "parameters.cmd.type", "expected x")
    assert str(error) == "packs/foo/actions/bar.yaml: parameters.cmd.type: expected x"


def test_str_without_yaml_path_and_with_line() -> None:
    assert str(PackError(Path("a.yaml"), "", "bad")) == "a.yaml: bad"
    assert str(PackError(Path("a.yaml"), "name", "bad", line=3)) == "a.yaml: name: bad (line 3)"


def test_line_is_not_part_of_equality() -> None:
    assert PackError(Path("a"), "b", "c", line=7) == PackError(Path("a"), "b", "c")


def test_file_problems_uses_the_nearest_known_line() -> None:
    errors: list[PackError] = []
    problems = FileProblems(Path("a.yaml"), errors, {("parameters",): 4, ("parameters", "x"): 5})
    problems.add(("parameters", "x", "missing"), "one")
    problems.add(("parameters", "y"), "two")
    problems.add(("name",), "three")
    assert [e.line for e in errors] == [5, 4, None]
    assert problems.count == 3

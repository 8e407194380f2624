"""The shell runners' pure parts: st2's argv construction (§2.4), sudo, shebangs, statuses."""

from __future__ import annotations

from typing import Any

import pytest

from core.models import ExecutionStatus
from core.runners.argv import (
    build_cmd_argv,
    build_script_argv,
    named_args,
    positional_names,
    serialize_positional,
)
from core.runners.process import ProcessOutcome
from core.runners.shell import outcome_status, wrap_sudo
from core.runners.shell_script import shebang

S = ExecutionStatus


@pytest.mark.parametrize(
    ("param_type", "value", "expected"),
    [
        ("string", "hello world", "hello world"),
        ("string", None, ""),
        ("string", "", ""),
        ("string", 5, "5"),
        ("number", 1.5, "1.5"),
        ("number", 0, "0"),
        ("number", None, ""),
        ("float", 2.0, "2.0"),
        ("boolean", True, "1"),
        ("boolean", False, "0"),
        ("boolean", None, ""),
        ("array", ["a", "b", "c"], "a,b,c"),
        ("array", [1, True], "1,True"),
        ("array", [], ""),
        ("array", None, ""),
        ("list", ["x"], "x"),
        ("object", {"a": 1, "b": [1, 2]}, '{"a":1,"b":[1,2]}'),
        ("object", {}, ""),
        ("object", None, ""),
        ("null", "anything", ""),
        # "integer" is not special-cased in st2: falsy values, even 0, become "".
        ("integer", 7, "7"),
        ("integer", 0, ""),
        ("integer", None, ""),
        (None, "untyped", "untyped"),
        (None, "", ""),
    ],
)
def test_serialize_positional(param_type: Any, value: Any, expected: str) -> None:
    assert serialize_positional(param_type, value) == expected


@pytest.mark.parametrize(
    ("params", "op", "expected"),
    [
        ({"name": "value"}, "--", ["--name=value"]),
        ({"name": "two words"}, "--", ["--name=two words"]),
        ({"n": 3, "f": 1.5}, "--", ["--n=3", "--f=1.5"]),
        ({"zero": 0}, "--", ["--zero=0"]),
        ({"flag": True}, "--", ["--flag"]),
        ({"flag": False}, "--", []),
        ({"none": None, "empty": ""}, "--", []),
        ({"name": "v"}, "-", ["-name=v"]),
        ({"name": "v"}, "", ["name=v"]),
        # st2 uses str() here, so lists and dicts arrive in Python's repr.
        ({"tags": ["a", "b"]}, "--", ["--tags=['a', 'b']"]),
        ({"obj": {"k": 1}}, "--", ["--obj={'k': 1}"]),
        ({"b": "2", "a": "1"}, "--", ["--b=2", "--a=1"]),
    ],
)
def test_named_args(params: dict[str, Any], op: str, expected: list[str]) -> None:
    assert named_args(params, op) == expected


SCHEMA: dict[str, Any] = {
    "second": {"type": "string", "position": 1},
    "first": {"type": "boolean", "position": 0},
    "third": {"type": "array", "position": 2},
    "named": {"type": "string"},
    "flag": {"type": "boolean"},
}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (
            {"first": True, "second": "b", "third": ["x", "y"], "named": "n", "flag": True},
            ["/s.sh", "--named=n", "--flag", "1", "b", "x,y"],
        ),
        # Missing and empty positionals are still passed, as "".
        ({"named": "n"}, ["/s.sh", "--named=n", "", "", ""]),
        ({"second": "", "flag": False}, ["/s.sh", "", "", ""]),
        # Parameters the schema does not know are named args too.
        ({"extra": "e", "first": False}, ["/s.sh", "--extra=e", "0", "", ""]),
        # Hostile text stays one literal argument each.
        (
            {"named": "$(rm -rf x)", "second": "; touch pwned", "third": ["`id`"]},
            ["/s.sh", "--named=$(rm -rf x)", "", "; touch pwned", "`id`"],
        ),
    ],
)
def test_build_script_argv(params: dict[str, Any], expected: list[str]) -> None:
    assert build_script_argv("/s.sh", SCHEMA, params, "--") == expected


def test_positional_names_sorted_and_later_duplicate_wins() -> None:
    schema = {
        "c": {"position": 2},
        "a": {"position": 0},
        "b": {"position": 1},
        "b2": {"position": 1},
        "n": {},
    }
    assert positional_names(schema) == ["a", "b2", "c"]
    # The parameter that lost its position falls back to a named argument.
    argv = build_script_argv("s", schema, {"a": "A", "b": "B", "b2": "B2", "c": "C"}, "--")
    assert argv == ["s", "--b=B", "A", "B2", "C"]


@pytest.mark.parametrize(
    ("cmd", "params", "expected"),
    [
        ("./run.sh", {"x": 1}, ["./run.sh", "--x=1"]),
        ("python3 tool.py 'two words'", {}, ["python3", "tool.py", "two words"]),
        ("run", {"p": "v", "flag": True, "off": False}, ["run", "--p=v", "--flag"]),
    ],
)
def test_build_cmd_argv(cmd: str, params: dict[str, Any], expected: list[str]) -> None:
    assert build_cmd_argv(cmd, params, "--") == expected


@pytest.mark.parametrize(
    ("argv", "sudo", "euid", "expected"),
    [
        (["bash", "-c", "id"], False, 1000, ["bash", "-c", "id"]),
        (["bash", "-c", "id"], True, 1000, ["sudo", "-E", "--", "bash", "-c", "id"]),
        (["/s.sh", "--a=1"], True, 1000, ["sudo", "-E", "--", "/s.sh", "--a=1"]),
        # Already root: sudo would change nothing but need the binary.
        (["bash", "-c", "id"], True, 0, ["bash", "-c", "id"]),
    ],
)
def test_wrap_sudo(argv: list[str], sudo: bool, euid: int, expected: list[str]) -> None:
    assert wrap_sudo(argv, sudo, euid) == expected


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"#!/bin/bash", ["/bin/bash"]),
        (b"#! /usr/bin/env python3", ["/usr/bin/env", "python3"]),
        # The kernel passes everything after the interpreter as one argument.
        (b"#!/usr/bin/env -S bash -e", ["/usr/bin/env", "-S bash -e"]),
        (b"echo hi", None),
        (b"#!", None),
        (b"", None),
    ],
)
def test_shebang(head: bytes, expected: list[str] | None) -> None:
    assert shebang(head) == expected


@pytest.mark.parametrize(
    ("code", "timed_out", "canceled", "status"),
    [
        (0, False, False, S.SUCCEEDED),
        (1, False, False, S.FAILED),
        (2, False, False, S.FAILED),
        (-9, False, False, S.FAILED),
        (-15, False, False, S.ABANDONED),
        (-9, True, False, S.TIMEOUT),
        (-9, False, True, S.CANCELED),
        (0, False, True, S.CANCELED),
    ],
)
def test_outcome_status(code: int, timed_out: bool, canceled: bool, status: S) -> None:
    assert outcome_status(ProcessOutcome("", "", code, timed_out, canceled)) is status

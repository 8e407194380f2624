"""Action metadata checks (st2-format §2.1-2.2), one rule at a time."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from core.packs.loader import load_packs
from core.packs.validate import validate_pack

MANIFEST = "name: demo\ndescription: d\nversion: 1.0.0\nauthor: me\n"


def make_pack(tmp_path: Path, actions: dict[str, str], files: tuple[str, ...] = ()) -> Path:
    pack = tmp_path / "demo"
    (pack / "actions").mkdir(parents=True)
    (pack / "pack.yaml").write_text(MANIFEST)
    for name, text in actions.items():
        (pack / "actions" / name).write_text(textwrap.dedent(text))
    for name in files:
        target = pack / "actions" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("#!/bin/sh\n")
    return pack


def problems(tmp_path: Path, text: str, files: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    pack = make_pack(tmp_path, {"a.yaml": text}, files)
    return [(e.yaml_path, e.message) for e in validate_pack(pack)]


def test_minimal_action_defaults(tmp_path: Path) -> None:
    pack = make_pack(tmp_path, {"a.yaml": "name: a\nrunner_type: noop\n"})
    result = load_packs([pack], config_dir=None)
    assert result.errors == []
    action = result.index.get_action("demo.a")
    assert (action.enabled, action.entry_point, action.description) == (True, "", "")
    assert action.parameters == {}
    assert action.pack_path == pack.resolve()
    assert action.metadata_file == (pack / "actions" / "a.yaml").resolve()


def test_yml_files_load_and_other_files_do_not(tmp_path: Path) -> None:
    pack = make_pack(
        tmp_path,
        {
            "a.yml": "name: a\nrunner_type: noop\n",
            "notes.txt": "name: [broken\n",
            ".hidden.yaml": "name: [broken\n",
        },
    )
    (pack / "actions" / "sub").mkdir()
    (pack / "actions" / "sub" / "b.yaml").write_text("name: [broken\n")
    result = load_packs([pack], config_dir=None)
    assert result.errors == []
    assert sorted(result.index.actions) == ["demo.a"]


def test_name_and_runner_are_required(tmp_path: Path) -> None:
    assert problems(tmp_path, "description: x\n") == [
        ("name", "required key is missing"),
        ("runner_type", "required key is missing"),
    ]


@pytest.mark.parametrize(
    ("runner", "message"),
    [
        ("announcement", "runner 'announcement' is not available yet in this Squall version"),
        (
            "winrm-ps-cmd",
            "runner 'winrm-ps-cmd' is not supported by Squall (Windows hosts over WinRM)",
        ),
        (
            "run-local",
            "unknown runner 'run-local'; known runners: action-chain, chat-post, http-request, "
            "inject-trigger, inquirer, local-shell-cmd, local-shell-script, noop, orquesta, "
            "pack-manage, python-script, remote-shell-cmd, remote-shell-script",
        ),
    ],
)
def test_runner_type_messages(tmp_path: Path, runner: str, message: str) -> None:
    assert problems(tmp_path, f"name: a\nrunner_type: {runner}\n") == [("runner_type", message)]


def test_unknown_top_level_key_is_an_error(tmp_path: Path) -> None:
    assert problems(tmp_path, "name: a\nrunner_type: noop\nparamters: {}\n") == [
        ("paramters", "unknown key; did you mean 'parameters'?")
    ]


def test_computed_st2_fields_are_accepted(tmp_path: Path) -> None:
    text = "name: a\nrunner_type: noop\nref: demo.a\nuid: action:demo:a\nmetadata_file: x\n"
    assert problems(tmp_path, text) == []


def test_enabled_must_be_a_boolean_and_yaml_11_no_is_false(tmp_path: Path) -> None:
    pack = make_pack(tmp_path, {"a.yaml": "name: a\nrunner_type: noop\nenabled: no\n"})
    assert load_packs([pack], config_dir=None).index.get_action("demo.a").enabled is False
    text = "name: a\nrunner_type: noop\nenabled: 'no'\n"
    assert problems(tmp_path / "x", text) == [("enabled", "expected a boolean, got string 'no'")]


def test_pack_field_must_match(tmp_path: Path) -> None:
    assert problems(tmp_path, "name: a\npack: demo\nrunner_type: noop\n") == []
    assert problems(tmp_path / "x", "name: a\npack: other\nrunner_type: noop\n") == [
        ("pack", "the action says pack 'other' but it is in pack 'demo'")
    ]


def test_notify_and_tags_shapes(tmp_path: Path) -> None:
    text = """\
        name: a
        runner_type: noop
        notify:
          on-complete: {message: done, routes: [chat]}
          on-succes: {}
        tags: [{name: team, value: ops}, oops]
    """
    assert problems(tmp_path, text) == [
        ("notify.on-succes", "unknown key; did you mean 'on-success'?"),
        ("tags[1]", "expected an object, got string 'oops'"),
    ]


@pytest.mark.parametrize("runner", ["local-shell-script", "python-script"])
def test_entry_point_required_for_script_runners(tmp_path: Path, runner: str) -> None:
    assert problems(tmp_path, f"name: a\nrunner_type: {runner}\n") == [
        ("entry_point", f"runner {runner!r} needs an entry_point")
    ]


def test_entry_point_of_shell_cmd_is_ignored_as_st2_does(tmp_path: Path) -> None:
    # contrib/examples ships local-shell-cmd actions with an entry_point; st2 never reads it.
    text = "name: a\nrunner_type: local-shell-cmd\nentry_point: missing.sh\n"
    assert problems(tmp_path, text) == []
    ok = "name: a\nrunner_type: local-shell-cmd\nentry_point: ''\n"
    assert problems(tmp_path / "x", ok) == []


def test_entry_point_must_exist_and_be_a_file(tmp_path: Path) -> None:
    text = "name: a\nrunner_type: local-shell-script\nentry_point: {ep}\n"
    assert problems(tmp_path / "1", text.format(ep="nope.sh")) == [
        ("entry_point", "file actions/nope.sh does not exist")
    ]
    assert problems(tmp_path / "2", text.format(ep="lib"), ("lib/x.sh",)) == [
        ("entry_point", "actions/lib is not a file")
    ]
    assert problems(tmp_path / "3", text.format(ep="lib/x.sh"), ("lib/x.sh",)) == []


@pytest.mark.parametrize(
    ("entry_point", "message"),
    [
        ("../../etc/passwd", "'../../etc/passwd' points outside the pack"),
        ("/etc/passwd", "'/etc/passwd' is absolute; give a path relative to actions/"),
        ("../../demo_evil/x.sh", "'../../demo_evil/x.sh' points outside the pack"),
    ],
)
def test_entry_point_escapes(tmp_path: Path, entry_point: str, message: str) -> None:
    (tmp_path / "demo_evil").mkdir()
    (tmp_path / "demo_evil" / "x.sh").write_text("#!/bin/sh\n")
    text = f"name: a\nrunner_type: local-shell-script\nentry_point: {entry_point}\n"
    assert problems(tmp_path, text) == [("entry_point", message)]


def test_entry_point_symlink_out_of_the_pack(tmp_path: Path) -> None:
    (tmp_path / "outside.sh").write_text("#!/bin/sh\n")
    pack = make_pack(
        tmp_path, {"a.yaml": "name: a\nrunner_type: local-shell-script\nentry_point: x.sh\n"}
    )
    (pack / "actions" / "x.sh").symlink_to(tmp_path / "outside.sh")
    errors = validate_pack(pack)
    assert [(e.yaml_path, e.message) for e in errors] == [
        ("entry_point", "'x.sh' leaves the pack through a symlink")
    ]


def test_action_file_symlinked_out_of_the_pack_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "elsewhere.yaml").write_text("name: stolen\nrunner_type: noop\n")
    pack = make_pack(tmp_path, {})
    (pack / "actions" / "stolen.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    result = load_packs([pack], config_dir=None)
    assert [(e.file, e.message) for e in result.errors] == [
        (
            pack / "actions" / "stolen.yaml",
            "'actions/stolen.yaml' leaves the pack through a symlink",
        )
    ]
    assert result.index.actions == {}


def test_parameter_schema_checks(tmp_path: Path) -> None:
    text = """\
        name: a
        runner_type: noop
        parameters:
          count: {type: int, requried: true, minimum: low}
          flag: {type: boolean, immutable: 'yes', default: true}
          items_p: {type: array, items: {type: nope}}
          '1bad name': {type: string}
          on: {type: string}
          10: {type: string}
          plain: string
    """
    assert problems(tmp_path, text) == [
        (
            "parameters.count.type",
            "expected one of 'array', 'boolean', 'integer', 'null', 'number', 'object', "
            "'string'; got string 'int'",
        ),
        ("parameters.count.minimum", "expected a number, got string 'low'"),
        ("parameters.count.requried", "unknown key; did you mean 'required'?"),
        ("parameters.flag.immutable", "expected a boolean, got string 'yes'"),
        (
            "parameters.items_p.items.type",
            "expected one of 'array', 'boolean', 'integer', 'null', 'number', 'object', "
            "'string'; got string 'nope'",
        ),
        ("parameters.1bad name", "invalid name: use letters, digits and _ only"),
        ("parameters.True", "invalid name: YAML read this key as boolean True; quote it"),
        ("parameters.10", "invalid name: YAML read this key as integer 10; quote it"),
        ("parameters.plain", "expected an object (a parameter schema), got string 'string'"),
    ]


def test_parameter_without_type_is_allowed(tmp_path: Path) -> None:
    # st2's core.http declares ``method`` with only an enum.
    text = "name: a\nrunner_type: noop\nparameters:\n  method: {enum: [GET, POST]}\n"
    assert problems(tmp_path, text) == []


def test_positions(tmp_path: Path) -> None:
    text = """\
        name: a
        runner_type: local-shell-script
        entry_point: x.sh
        parameters:
          a: {type: string, position: 0}
          b: {type: string, position: 0}
          c: {type: string, position: 2}
          d: {type: string, position: 1.5}
    """
    assert problems(tmp_path, text, ("x.sh",)) == [
        ("parameters.d.position", "expected an integer, got number 1.5"),
        ("parameters.b.position", "position 0 is already used by parameter 'a'"),
        ("parameters", "positions [0, 2] are not contiguous"),
    ]


def test_positions_may_start_above_zero(tmp_path: Path) -> None:
    # st2's hello_st2 greet action has a single parameter at position 1.
    text = "name: a\nrunner_type: noop\nparameters:\n  g: {type: string, position: 1}\n"
    assert problems(tmp_path, text) == []


def test_immutable_action_parameter_needs_a_default(tmp_path: Path) -> None:
    text = """\
        name: a
        runner_type: local-shell-cmd
        parameters:
          fixed: {type: string, immutable: true}
          fine: {type: string, immutable: true, default: x}
          sudo: {immutable: true}
    """
    assert problems(tmp_path, text) == [
        ("parameters.fixed", "an immutable parameter needs a default")
    ]


def test_runner_parameter_overrides(tmp_path: Path) -> None:
    allowed = """\
        name: a
        runner_type: local-shell-cmd
        parameters:
          cmd: {type: string, description: mine, required: true, default: ls}
          timeout: {default: 5, enum: [5, 10], immutable: true}
    """
    assert problems(tmp_path / "ok", allowed) == []
    denied = """\
        name: a
        runner_type: local-shell-cmd
        parameters:
          cmd: {type: integer, description: mine}
          kwarg_op: {pattern: '^-+$'}
    """
    suffix = " An action may only change default, description, enum, immutable, required of a "
    assert problems(tmp_path / "no", denied) == [
        (
            "parameters.cmd.type",
            'The attribute "type" for the runner parameter "cmd" in action "demo.a" cannot be '
            "overridden." + suffix + "runner parameter.",
        ),
        (
            "parameters.kwarg_op.pattern",
            'The attribute "pattern" for the runner parameter "kwarg_op" in action "demo.a" '
            "cannot be overridden." + suffix + "runner parameter.",
        ),
    ]


def test_duplicate_action_names_keep_the_first_file(tmp_path: Path) -> None:
    pack = make_pack(
        tmp_path,
        {
            "a.yaml": "name: same\nrunner_type: noop\ndescription: first\n",
            "b.yaml": "name: same\nrunner_type: noop\ndescription: second\n",
        },
    )
    result = load_packs([pack], config_dir=None)
    assert [(e.file, e.yaml_path, e.message) for e in result.errors] == [
        (pack / "actions" / "b.yaml", "name", "action 'same' is already defined in actions/a.yaml")
    ]
    assert result.index.get_action("demo.same").description == "first"


def test_every_problem_of_one_file_is_reported_together(tmp_path: Path) -> None:
    text = """\
        name: a
        runner_type: local-shell-script
        entry_point: ../../x.sh
        enabled: 1
        parameters:
          p: {type: str, position: 0}
          q: {type: string, position: 0}
    """
    assert problems(tmp_path, text) == [
        ("enabled", "expected a boolean, got integer 1"),
        (
            "parameters.p.type",
            "expected one of 'array', 'boolean', 'integer', 'null', 'number', 'object', "
            "'string'; got string 'str'",
        ),
        ("parameters.q.position", "position 0 is already used by parameter 'p'"),
        ("entry_point", "'../../x.sh' points outside the pack"),
    ]


def test_broken_action_is_skipped_and_the_rest_load(tmp_path: Path) -> None:
    pack = make_pack(
        tmp_path,
        {"good.yaml": "name: good\nrunner_type: noop\n", "bad.yaml": "name: bad\n"},
    )
    result = load_packs([pack], config_dir=None)
    assert sorted(result.index.actions) == ["demo.good"]
    assert [(e.file.name, e.yaml_path) for e in result.errors] == [("bad.yaml", "runner_type")]
    assert "demo" in result.index.packs

"""Loading the fixture packs and the bundled core pack from disk, end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.packs import PackError
from core.packs.config import MISSING_REQUIRED
from core.packs.loader import LoadResult, load_packs
from core.packs.validate import validate_pack

MISSING = MISSING_REQUIRED + "; actions that read it fail until it is set"

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "packs"
FIXTURES = ROOT / "tests" / "fixtures" / "packs"
GOOD = FIXTURES / "good"
BROKEN = FIXTURES / "broken"
CONFIGS = FIXTURES / "configs"

CORE_ACTIONS = [
    "core.ask",
    "core.echo",
    "core.error",
    "core.http",
    "core.inject_trigger",
    "core.local",
    "core.local_sudo",
    "core.noop",
    "core.pause",
    "core.remote",
    "core.remote_sudo",
    "core.uuid",
]
TYPES = "'array', 'boolean', 'integer', 'null', 'number', 'object', 'string'"
OVERRIDE = (
    'The attribute "{attr}" for the runner parameter "{param}" in action "overrides.denied" '
    "cannot be overridden. An action may only change default, description, enum, immutable, "
    "required of a runner parameter."
)


def where(errors: list[PackError]) -> list[tuple[str, str, str]]:
    """Errors as (file relative to the fixtures, yaml path, message), sorted."""
    return sorted((e.file.relative_to(FIXTURES).as_posix(), e.yaml_path, e.message) for e in errors)


@pytest.fixture(scope="module")
def everything() -> LoadResult:
    return load_packs([BUNDLED, GOOD, BROKEN], config_dir=CONFIGS)


def test_bundled_core_pack_loads_without_errors() -> None:
    result = load_packs([BUNDLED], config_dir=None)
    assert result.errors == []
    core_actions = sorted(ref for ref in result.index.actions if ref.startswith("core."))
    assert core_actions == CORE_ACTIONS
    core = result.index.packs["core"]
    assert (core.ref, core.name, core.version, core.author) == ("core", "core", "0.1.0", "Squall")
    assert validate_pack(BUNDLED / "core") == []


def test_core_action_details() -> None:
    index = load_packs([BUNDLED], config_dir=None).index
    echo = index.get_action("core.echo")
    assert echo.runner_type == "local-shell-cmd"
    assert echo.parameters["cmd"]["default"] == 'echo "{{message}}"'
    assert echo.parameters["cmd"]["immutable"] is True
    assert index.get_action("core.error").parameters["cmd"]["default"] == '>&2 echo "{{message}}"'
    assert index.get_action("core.local_sudo").parameters["sudo"] == {
        "default": True,
        "immutable": True,
    }
    http = index.get_action("core.http")
    assert http.parameters["method"]["enum"] == [
        "HEAD",
        "GET",
        "POST",
        "PUT",
        "DELETE",
        "OPTIONS",
        "TRACE",
        "PATCH",
        "PURGE",
    ]
    assert http.parameters["timeout"] == {
        "description": "Timeout of the HTTP request, in seconds.",
        "type": "number",
        "default": 60,
    }
    pause = index.get_action("core.pause")
    assert (pause.runner_type, pause.entry_point) == ("python-script", "pause.py")
    assert [pause.parameters[p]["position"] for p in ("max_pause", "random")] == [0, 1]
    uuid = index.get_action("core.uuid")
    assert (uuid.entry_point, uuid.parameters["uuid_type"]["default"]) == (
        "generate_uuid.py",
        "uuid4",
    )
    assert uuid.entry_point_path == BUNDLED / "core" / "actions" / "generate_uuid.py"


def test_good_packs(everything: LoadResult) -> None:
    index = everything.index
    hello = index.packs["hello_st2"]  # the directory is "hello-st2"
    assert hello.name == "Hello StackStorm"
    assert hello.path == GOOD / "hello-st2"
    assert hello.metadata["x_squall_note"] == "kept in metadata"
    assert index.packs["minimal"].version == "0.2.0"  # ``version: 0.2`` in pack.yaml
    assert [a.ref for a in [a for a in index.actions.values() if a.pack == "hello_st2"]] == [
        "hello_st2.disabled",
        "hello_st2.greet",
        "hello_st2.info",
        "hello_st2.ping",
    ]
    assert not [e for e in everything.errors if GOOD in e.file.parents]


def test_good_pack_actions(everything: LoadResult) -> None:
    index = everything.index
    greet = index.get_action("hello_st2.greet")
    assert greet.runner_type == "local-shell-script"
    assert greet.entry_point_path == GOOD / "hello-st2" / "actions" / "greet.sh"
    assert {n: p.get("position") for n, p in greet.parameters.items()} == {
        "greeting": 0,
        "target": 1,
        "loud": None,
        "sudo": None,
    }
    assert index.get_action("hello_st2.info").entry_point == "lib/info.py"
    assert index.get_action("hello_st2.info").parameters["verbose"]["default"] is False
    assert index.get_action("hello_st2.disabled").enabled is False


def test_good_pack_config(everything: LoadResult) -> None:
    assert everything.index.packs["hello_st2"].config == {
        "token": "{{ st2kv.system.hello_token | decrypt_kv }}",
        "retries": "{{ st2kv.system.retries }}",
        "greeting": "Hello",
        "mode": "fast",
        "api": {"host": "localhost", "port": 9000},
    }


def test_broken_packs_report_every_error(everything: LoadResult) -> None:
    bad = "broken/bad_actions/actions/"
    assert [w for w in where(everything.errors) if w[0].startswith(bad)] == sorted(
        [
            (bad + "a_list.yaml", "", "expected a mapping at the top level, got a list"),
            (
                bad + "b_second.yaml",
                "name",
                "action 'twice' is already defined in actions/a_first.yaml",
            ),
            (bad + "bad_fields.yaml", "description", "expected a string, got integer 42"),
            (bad + "bad_fields.yaml", "enabled", "expected a boolean, got string 'yes'"),
            (bad + "bad_fields.yaml", "tags", "expected an array, got an object"),
            (bad + "bad_fields.yaml", "notifiy", "unknown key; did you mean 'notify'?"),
            (
                bad + "bad_fields.yaml",
                "parameters.count.type",
                f"expected one of {TYPES}; got string 'int'",
            ),
            (
                bad + "bad_fields.yaml",
                "parameters.count.position",
                "-1 is less than the minimum of 0",
            ),
            (
                bad + "bad_fields.yaml",
                "parameters.count.requried",
                "unknown key; did you mean 'required'?",
            ),
            (
                bad + "bad_fields.yaml",
                "parameters.bad-name",
                "invalid name: use letters, digits and _ only",
            ),
            (
                bad + "bad_fields.yaml",
                "parameters.True",
                "invalid name: YAML read this key as boolean True; quote it",
            ),
            (
                bad + "bad_fields.yaml",
                "parameters.token.secret",
                "expected a boolean, got string 'true'",
            ),
            (bad + "bad_fields.yaml", "parameters.code.pattern", "invalid regular expression '(['"),
            (
                bad + "bad_fields.yaml",
                "parameters.listed",
                "expected an object (a parameter schema), got an array",
            ),
            (
                bad + "bad_fields.yaml",
                "parameters.second.position",
                "position 0 is already used by parameter 'first'",
            ),
            (bad + "bad_fields.yaml", "entry_point", "file actions/missing.sh does not exist"),
            (
                bad + "bad_fields.yaml",
                "parameters.locked",
                "an immutable parameter needs a default",
            ),
            (bad + "gaps.yaml", "parameters", "positions [0, 2] are not contiguous"),
            (
                bad + "later_runner.yaml",
                "runner_type",
                "runner 'announcement' is not available yet in this Squall version",
            ),
            (
                bad + "later_runner.yaml",
                "entry_point",
                "file actions/workflows/flow.yaml does not exist",
            ),
            (bad + "nameless.yaml", "name", "required key is missing"),
            (bad + "nameless.yaml", "runner_type", "required key is missing"),
            (
                bad + "other_pack.yaml",
                "pack",
                "the action says pack 'somebody_else' but it is in pack 'bad_actions'",
            ),
            (
                bad + "python_without_entry.yaml",
                "entry_point",
                "runner 'python-script' needs an entry_point",
            ),
            (
                bad + "remote.yaml",
                "runner_type",
                "runner 'winrm-cmd' is not supported by Squall (Windows hosts over WinRM)",
            ),
            (
                bad + "syntax.yaml",
                "",
                "invalid YAML: while parsing a flow sequence: did not find expected ',' or ']'",
            ),
            (
                bad + "typo_runner.yaml",
                "runner_type",
                "unknown runner 'local-shell-command'; known runners: action-chain, chat-post, "
                "http-request, inject-trigger, inquirer, local-shell-cmd, local-shell-script, "
                "noop, orquesta, pack-manage, python-script, remote-shell-cmd, remote-shell-script",
            ),
        ]
    )
    # The valid actions of the pack still load (an entry_point on local-shell-cmd is ignored).
    assert sorted(
        a.ref for a in [a for a in everything.index.actions.values() if a.pack == "bad_actions"]
    ) == [
        "bad_actions.cmd_with_entry",
        "bad_actions.twice",
    ]


def test_broken_manifest(everything: LoadResult) -> None:
    file = "broken/bad-manifest/pack.yaml"
    assert [w for w in where(everything.errors) if w[0] == file] == sorted(
        [
            (file, "keywords", "expected an array, got string 'single'"),
            (file, "python_versions[0]", "expected one of '2', '3'; got integer 2"),
            (file, "author", "required key is missing"),
            (file, "version", "'one' is not a semver version (MAJOR.MINOR.PATCH, e.g. 1.0.0)"),
            (
                file,
                "ref",
                "neither the directory name 'bad-manifest' nor the name is a valid pack ref "
                "(a-z, 0-9 and _); add a ref",
            ),
        ]
    )


def test_entry_point_escapes(everything: LoadResult) -> None:
    escapes = "broken/escapes/actions/"
    assert [w for w in where(everything.errors) if w[0].startswith(escapes)] == [
        (
            escapes + "absolute.yaml",
            "entry_point",
            "'/etc/passwd' is absolute; give a path relative to actions/",
        ),
        (escapes + "dotdot.yaml", "entry_point", "'../../etc/passwd' points outside the pack"),
        (
            escapes + "sibling.yaml",
            "entry_point",
            "'../../escapes_evil/actions/run.sh' points outside the pack",
        ),
    ]
    assert [
        a.ref for a in [a for a in everything.index.actions.values() if a.pack == "escapes"]
    ] == ["escapes.inside"]


def test_unsafe_yaml_tag(everything: LoadResult) -> None:
    assert [w for w in where(everything.errors) if "unsafe_yaml" in w[0]] == [
        (
            "broken/unsafe_yaml/actions/tagged.yaml",
            "",
            "unsupported YAML tag 'tag:yaml.org,2002:python/object/apply:os.system': "
            "only plain YAML is allowed in packs",
        )
    ]


def test_runner_parameter_overrides(everything: LoadResult) -> None:
    file = "broken/overrides/actions/denied.yaml"
    assert [w for w in where(everything.errors) if "overrides" in w[0]] == sorted(
        [
            (file, "parameters.cmd.type", OVERRIDE.format(attr="type", param="cmd")),
            (file, "parameters.timeout.secret", OVERRIDE.format(attr="secret", param="timeout")),
            (file, "parameters.timeout.minimum", OVERRIDE.format(attr="minimum", param="timeout")),
        ]
    )
    allowed = everything.index.get_action("overrides.allowed")
    assert allowed.parameters["sudo"] == {"default": True, "immutable": True}


def test_config_errors(everything: LoadResult) -> None:
    config = "configs/bad_config.yaml"
    schema = "broken/bad_schema/config.schema.yaml"
    found = [w for w in where(everything.errors) if w[0] in (config, schema)]
    assert found == sorted(
        [
            (config, "region", "expected one of 'eu', 'us'; got string 'mars'"),
            (config, "port", "expected an integer, got string 'not a number'"),
            (
                config,
                "limits.mode",
                MISSING,
            ),
            (
                config,
                "api_key",
                MISSING,
            ),
            (schema, "host.type", f"expected one of {TYPES}; got string 'str'"),
            (schema, "host.requried", "unknown key; did you mean 'required'?"),
            (schema, "port", "expected an object (a parameter schema), got integer 8080"),
        ]
    )


def test_every_error_is_accounted_for(everything: LoadResult) -> None:
    # The tests above each check one pack's list; together they cover the whole result.
    counted = {
        "broken/bad_actions/": 27,
        "broken/bad-manifest/": 5,
        "broken/escapes/": 3,
        "broken/unsafe_yaml/": 1,
        "broken/overrides/": 3,
        "configs/": 4,
        "broken/bad_schema/": 3,
    }
    files = [w[0] for w in where(everything.errors)]
    assert {p: sum(f.startswith(p) for f in files) for p in counted} == counted
    assert len(files) == sum(counted.values())


def test_broken_packs_do_not_stop_the_others(everything: LoadResult) -> None:
    assert set(everything.index.packs) == {
        "core",
        "chatops",
        "packs",
        "hello_st2",
        "minimal",
        "bad_actions",
        "bad_config",
        "bad_schema",
        "escapes",
        "escapes_evil",
        "overrides",
        "unsafe_yaml",
    }
    assert "core.echo" in everything.index.actions


def test_validate_pack_equals_the_loader_errors(everything: LoadResult) -> None:
    pack = BROKEN / "bad_actions"
    assert validate_pack(pack) == [e for e in everything.errors if pack in e.file.parents]


def test_same_ref_twice_keeps_the_first(tmp_path: Path) -> None:
    result = load_packs([GOOD, GOOD / "hello-st2"], config_dir=None)
    assert [(e.file, e.yaml_path, e.message) for e in result.errors] == [
        (
            GOOD / "hello-st2" / "pack.yaml",
            "ref",
            f"pack ref 'hello_st2' is already used by {GOOD / 'hello-st2'}; this pack is skipped",
        )
    ]
    assert result.index.packs["hello_st2"].path == GOOD / "hello-st2"


def test_bundled_refs_are_reserved_for_the_first_path(tmp_path: Path) -> None:
    user = tmp_path / "core"
    user.mkdir()
    (user / "pack.yaml").write_text("name: core\ndescription: d\nversion: 1.0.0\nauthor: me\n")
    result = load_packs([tmp_path / "empty_bundle", user], config_dir=None)
    assert [(e.yaml_path, e.message) for e in result.errors] == [
        ("", "pack path does not exist"),
        ("ref", "pack ref 'core' is reserved for Squall's bundled pack"),
    ]
    assert result.index.packs == {}


def test_directory_of_packs_reports_folders_without_pack_yaml(tmp_path: Path) -> None:
    (tmp_path / "not_a_pack").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / "README.md").write_text("hi\n")
    assert load_packs([tmp_path], config_dir=None).errors == [
        PackError(tmp_path / "not_a_pack" / "pack.yaml", "", "not a pack: pack.yaml is missing")
    ]

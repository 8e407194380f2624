"""Settings: defaults, ${ENV} substitution, strict typing, errors with paths, the example file."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import (
    BUNDLED_PACKS_DIR,
    Settings,
    SettingsError,
    load_settings,
)
from bot.settings.parser import Context, parse_document

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config.example.yaml"


def write(tmp_path: Path, text: str, name: str = "squall.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def errors_of(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(write(tmp_path, text), env=env or {})
    return caught.value.errors


# --- defaults and where the file comes from -------------------------------------------------


def test_defaults(tmp_path: Path) -> None:
    s = Settings.defaults(tmp_path)
    assert s.base_dir == tmp_path
    assert s.source is None
    assert s.store.url == f"sqlite:///{tmp_path}/var/squall.db"
    assert s.store.backend == "sqlite"
    assert s.store.sqlite_path == tmp_path / "var" / "squall.db"
    assert s.packs.paths == ()
    assert s.packs.config_dir == tmp_path / "configs"
    assert s.packs.resolved_paths() == (BUNDLED_PACKS_DIR,)
    assert s.aliases.paths == (tmp_path / "aliases",)
    assert (s.http.enabled, s.http.host, s.http.port) == (True, "127.0.0.1", 9101)
    assert s.executions.max_concurrency == 32
    assert s.executions.output_limit_bytes == 1_048_576
    assert s.executions.shutdown_grace_seconds == 30.0
    assert s.executions.python_fork_server is True
    assert "169.254.0.0/16" in s.runners.http.denied_networks
    assert "fe80::/10" in s.runners.http.denied_networks
    assert s.runners.http.allowed_networks == ()
    assert (s.log.level, s.log.format) == ("INFO", "text")
    assert s.crypto.key_path == tmp_path / "var" / "squall.key"


def test_bundled_packs_dir_is_the_checkouts_packs_folder() -> None:
    assert BUNDLED_PACKS_DIR == ROOT / "packs"


def test_default_denied_networks_cover_the_http_runners_own_defaults() -> None:
    from core.runners.ssrf import DEFAULT_DENIED

    assert set(DEFAULT_DENIED) <= set(Settings.defaults().runners.http.denied_networks)


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = Settings.defaults(tmp_path)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.http.port = 1  # type: ignore[misc]


def test_no_path_and_no_env_gives_defaults_for_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_settings(env={}) == Settings.defaults(tmp_path)


def test_squall_config_env_names_the_file(tmp_path: Path) -> None:
    config = write(tmp_path, "http:\n  port: 9200\n")
    s = load_settings(env={"SQUALL_CONFIG": str(config)})
    assert s.http.port == 9200
    assert s.source == config
    assert s.base_dir == tmp_path


def test_explicit_path_wins_over_squall_config(tmp_path: Path) -> None:
    chosen = write(tmp_path, "http:\n  port: 9300\n", "a.yaml")
    other = write(tmp_path, "http:\n  port: 9400\n", "b.yaml")
    assert load_settings(chosen, env={"SQUALL_CONFIG": str(other)}).http.port == 9300


def test_missing_file_named_explicitly_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SettingsError, match="config file not found") as caught:
        load_settings(missing, env={})
    assert str(caught.value) == f"{missing}: config file not found"
    with pytest.raises(SettingsError, match="not found"):
        load_settings(env={"SQUALL_CONFIG": str(missing)})


def test_empty_file_and_empty_sections_give_defaults(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, ""), env={}).http.port == 9101
    s = load_settings(write(tmp_path, "http:\nlog:\n"), env={})
    assert s.http == Settings.defaults(tmp_path).http


def test_invalid_yaml_reports_the_line(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, "http:\n  port: [1\n")
    assert len(errors) == 1
    assert errors[0].startswith("invalid YAML at line 3")


# --- environment substitution ----------------------------------------------------------------


def test_env_reference_and_default_forms(tmp_path: Path) -> None:
    text = (
        "store:\n  url: ${DB:-sqlite:///other.db}\n"
        "http:\n  host: ${HOST}\n"
        "log:\n  level: ${LEVEL:-warning}\n"
    )
    s = load_settings(write(tmp_path, text), env={"HOST": "0.0.0.0", "LEVEL": ""})
    assert s.store.url == f"sqlite:///{tmp_path}/other.db"
    assert s.http.host == "0.0.0.0"
    assert type(s.http.host) is str  # the EnvText marker does not leak out
    assert s.log.level == "WARNING"  # an empty variable takes the default, as in POSIX shells


def test_env_reference_inside_text_and_list_items(tmp_path: Path) -> None:
    text = "packs:\n  paths: ['${ROOT}/packs', '/srv/${NAME:-site}']\n"
    s = load_settings(write(tmp_path, text), env={"ROOT": "/opt/squall"})
    assert s.packs.paths == (Path("/opt/squall/packs"), Path("/srv/site"))


def test_dollar_dollar_escapes_a_literal_reference(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, "http:\n  host: $${HOST}-${X:-a}\n"), env={})
    assert s.http.host == "${HOST}-a"


def test_env_text_is_read_as_integer_number_and_boolean(tmp_path: Path) -> None:
    text = (
        "http:\n  port: ${PORT}\n  enabled: ${ON}\n"
        "executions:\n  shutdown_grace_seconds: ${GRACE:-2.5}\n"
    )
    s = load_settings(write(tmp_path, text), env={"PORT": "8080", "ON": "False"})
    assert (s.http.port, s.http.enabled, s.executions.shutdown_grace_seconds) == (8080, False, 2.5)


def test_env_text_that_is_not_the_right_type_is_an_error(tmp_path: Path) -> None:
    text = "http:\n  port: ${PORT}\n  enabled: ${ON}\n"
    errors = errors_of(tmp_path, text, env={"PORT": "80a", "ON": "1"})
    assert errors == [
        "http.enabled: expected boolean, got '1' from the environment",
        "http.port: expected integer, got '80a' from the environment",
    ]


def test_env_values_cannot_inject_yaml_structure(tmp_path: Path) -> None:
    evil = "x\nport: 1\nlog: {level: DEBUG}"
    s = load_settings(write(tmp_path, "http:\n  host: ${EVIL}\n"), env={"EVIL": evil})
    assert s.http.host == evil
    assert (s.http.port, s.log.level) == (9101, "INFO")


def test_unset_variables_are_errors_naming_path_and_variable(tmp_path: Path) -> None:
    text = "store:\n  url: ${SQUALL_STORE_URL}\nhttp:\n  host: a${B}c${C:-}\n"
    errors = errors_of(tmp_path, text)
    assert errors == [
        "store.url: environment variable SQUALL_STORE_URL is not set"
        " (use ${SQUALL_STORE_URL:-default} to give a default)",
        "http.host: environment variable B is not set (use ${B:-default} to give a default)",
    ]


def test_set_but_empty_variable_without_default_is_empty(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, "http:\n  host: a${B}c\n"), env={"B": ""})
    assert s.http.host == "ac"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("${HOST", "unclosed '${'"),
        ("${1X}", "invalid reference '${1X}'"),
        ("${A-b}", "invalid reference '${A-b}'"),
    ],
)
def test_malformed_references(tmp_path: Path, value: str, message: str) -> None:
    errors = errors_of(tmp_path, f"http:\n  host: '{value}'\n")
    assert len(errors) == 1
    assert errors[0].startswith(f"http.host: {message}")


# --- every error, with its path, all at once -------------------------------------------------

ALL_WRONG = """\
stor: {}
store:
  url: 5
packs:
  paths: extra
  config_dir: [a]
http:
  prot: 1
  port: 70000
  enabled: 1
executions:
  max_concurrency: 0
  output_limit_bytes: true
  shutdown_grace_seconds: -1
  python_fork_server: "yes"
  max_concurency: 3
runners:
  http:
    denied_networks: [nope, 10.0.0.1/8, 10.0.0.0/8]
    allowed_networks: 10.0.0.0/8
log:
  level: trace
  format: xml
crypto:
  key_path: null
zzz: 1
"""


# Every top-level section, in the order Settings declares them (the "expected one of" list).
SECTIONS = ", ".join(
    f.name for f in dataclasses.fields(Settings) if f.name not in ("base_dir", "source")
)


def test_all_errors_are_reported_together_with_paths(tmp_path: Path) -> None:
    config = write(tmp_path, ALL_WRONG)
    with pytest.raises(SettingsError) as caught:
        load_settings(config, env={})
    assert caught.value.errors == [
        "stor: unknown key (did you mean 'store'?)",
        f"zzz: unknown key (expected one of {SECTIONS})",
        "store.url: expected string, got integer",
        "packs.paths: expected list, got string",
        "packs.config_dir: expected path, got list",
        "http.prot: unknown key (did you mean 'port'?)",
        "http.enabled: expected boolean, got integer",
        "http.port: expected integer from 1 to 65535, got 70000",
        "executions.max_concurency: unknown key (did you mean 'max_concurrency'?)",
        "executions.max_concurrency: expected integer >= 1, got 0",
        "executions.output_limit_bytes: expected integer, got boolean",
        "executions.shutdown_grace_seconds: expected number >= 0.0, got -1.0",
        "executions.python_fork_server: expected boolean, got string",
        "runners.http.denied_networks[0]: expected a CIDR network such as 10.0.0.0/8:"
        " 'nope' does not appear to be an IPv4 or IPv6 network",
        "runners.http.denied_networks[1]: expected a CIDR network such as 10.0.0.0/8:"
        " 10.0.0.1/8 has host bits set",
        "runners.http.allowed_networks: expected list, got string",
        "log.level: expected one of DEBUG, INFO, WARNING, ERROR, got 'trace'",
        "log.format: expected one of text, json, got 'xml'",
        "crypto.key_path: expected path, got null",
    ]
    lines = str(caught.value).splitlines()
    assert len(lines) == len(caught.value.errors)
    assert all(line.startswith(f"{config}: ") for line in lines)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("- a\n", "(top level): expected mapping, got list"),
        ("http: 5\n", "http: expected mapping, got integer"),
        ("runners:\n  http: [1]\n", "runners.http: expected mapping, got list"),
        (
            "1: x\n",
            f"1: unknown key (expected one of {SECTIONS})",
        ),
    ],
)
def test_structure_errors(tmp_path: Path, text: str, error: str) -> None:
    assert errors_of(tmp_path, text) == [error]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("http:\n  enabled: 1\n", "http.enabled: expected boolean, got integer"),
        ("http:\n  enabled: 0\n", "http.enabled: expected boolean, got integer"),
        ("http:\n  enabled: 'true'\n", "http.enabled: expected boolean, got string"),
        ("http:\n  port: true\n", "http.port: expected integer, got boolean"),
        ("http:\n  port: 9101.0\n", "http.port: expected integer, got number"),
        ("http:\n  port: '9101'\n", "http.port: expected integer, got string"),
        ("http:\n  host: 1\n", "http.host: expected string, got integer"),
        (
            "executions:\n  shutdown_grace_seconds: false\n",
            "executions.shutdown_grace_seconds: expected number, got boolean",
        ),
        (
            "executions:\n  shutdown_grace_seconds: .inf\n",
            "executions.shutdown_grace_seconds: expected a finite number, got inf",
        ),
        (
            "executions:\n  output_limit_bytes: 1023\n",
            "executions.output_limit_bytes: expected integer >= 1024, got 1023",
        ),
        ("http:\n  port: 0\n", "http.port: expected integer from 1 to 65535, got 0"),
    ],
)
def test_bool_int_and_number_are_strict(tmp_path: Path, text: str, error: str) -> None:
    assert errors_of(tmp_path, text) == [error]


def test_number_accepts_an_integer_and_yaml_booleans_are_booleans(tmp_path: Path) -> None:
    text = "executions:\n  shutdown_grace_seconds: 5\n  python_fork_server: no\n"
    s = load_settings(write(tmp_path, text), env={})
    assert s.executions.shutdown_grace_seconds == 5.0
    assert isinstance(s.executions.shutdown_grace_seconds, float)
    assert s.executions.python_fork_server is False


def test_enum_values_are_case_insensitive_and_stored_canonically(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, "log:\n  level: debug\n  format: JSON\n"), env={})
    assert (s.log.level, s.log.format) == ("DEBUG", "json")


# --- networks --------------------------------------------------------------------------------


def test_cidr_lists_are_validated_and_normalised(tmp_path: Path) -> None:
    text = (
        "runners:\n  http:\n"
        "    denied_networks: ['10.0.0.0/8', 'FD00::/8', '192.0.2.1']\n"
        "    allowed_networks: ['10.1.2.0/24']\n"
    )
    http = load_settings(write(tmp_path, text), env={}).runners.http
    assert http.denied_networks == ("10.0.0.0/8", "fd00::/8", "192.0.2.1/32")
    assert http.allowed_networks == ("10.1.2.0/24",)
    assert all(ipaddress.ip_network(n) for n in http.denied_networks)


def test_an_empty_denied_list_is_allowed(tmp_path: Path) -> None:
    text = "runners:\n  http:\n    denied_networks: []\n"
    assert load_settings(write(tmp_path, text), env={}).runners.http.denied_networks == ()


# --- paths -----------------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    text = (
        "packs:\n  paths: [mine, ../shared, /abs/packs]\n  config_dir: conf\n"
        "aliases:\n  paths: [al]\n"
        "crypto:\n  key_path: keys/k.key\n"
    )
    config = write(site, text)
    monkeypatch.chdir(tmp_path)  # a relative config path and a different cwd
    s = load_settings(Path("site") / "squall.yaml", env={})
    assert s.base_dir == site
    assert s.source == config
    assert s.packs.paths == (site / "mine", tmp_path / "shared", Path("/abs/packs"))
    assert s.packs.resolved_paths(Path("/bundled")) == (Path("/bundled"), *s.packs.paths)
    assert s.packs.config_dir == site / "conf"
    assert s.packs.config_file("core") == site / "conf" / "core.yaml"
    assert s.aliases.paths == (site / "al",)
    assert s.crypto.key_path == site / "keys" / "k.key"


def test_resolved_pack_paths_put_the_bundled_folder_first_once(tmp_path: Path) -> None:
    text = f"packs:\n  paths: [extra, '{BUNDLED_PACKS_DIR}', extra]\n"
    s = load_settings(write(tmp_path, text), env={})
    assert s.packs.resolved_paths() == (BUNDLED_PACKS_DIR, tmp_path / "extra")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///db/s.db", "sqlite:///{base}/db/s.db"),
        ("sqlite:///../s.db?mode=rwc", "sqlite:///{parent}/s.db?mode=rwc"),
        ("sqlite:////abs/s.db", "sqlite:////abs/s.db"),
        ("sqlite:///:memory:", "sqlite:///:memory:"),
        ("mongodb://u:p@db:27017/squall", "mongodb://u:p@db:27017/squall"),
        ("mongodb+srv://cluster/squall", "mongodb+srv://cluster/squall"),
    ],
)
def test_store_urls(tmp_path: Path, url: str, expected: str) -> None:
    store = load_settings(write(tmp_path, f"store:\n  url: '{url}'\n"), env={}).store
    assert store.url == expected.format(base=tmp_path, parent=tmp_path.parent)


def test_store_url_helpers(tmp_path: Path) -> None:
    mongo = load_settings(write(tmp_path, "store:\n  url: mongodb://db/x\n"), env={}).store
    assert (mongo.backend, mongo.sqlite_path) == ("mongodb", None)
    memory = load_settings(write(tmp_path, "store:\n  url: 'sqlite:///:memory:'\n"), env={}).store
    assert (memory.backend, memory.sqlite_path) == ("sqlite", None)


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("postgres://u:secret@h/db", "expected a sqlite:///PATH or mongodb://HOST URL, got scheme"),
        ("squall.db", "expected a sqlite:///PATH or mongodb://HOST URL, got scheme"),
        ("sqlite://squall.db", "expected sqlite:///PATH (three slashes, then a file path)"),
        ("sqlite:///", "expected sqlite:///PATH (three slashes, then a file path)"),
    ],
)
def test_bad_store_urls(tmp_path: Path, url: str, error: str) -> None:
    [message] = errors_of(tmp_path, f"store:\n  url: '{url}'\n")
    assert message.startswith(f"store.url: {error}")
    assert "secret" not in message  # a URL may carry a password: never echo it


# --- the generic parser on a schema of its own -----------------------------------------------


@dataclass(frozen=True)
class Inner:
    tags: list[str]
    note: str | None = None


@dataclass(frozen=True)
class Outer:
    inner: Inner
    size: int | None = None


def parse_outer(raw: Any) -> Outer:
    return parse_document(Outer, raw, Context(base_dir=Path("/base")))


def test_parser_optional_list_and_required_keys() -> None:
    assert parse_outer({"inner": {"tags": ["a"]}}) == Outer(Inner(["a"]))
    assert parse_outer({"inner": {"tags": [], "note": None}, "size": None}).size is None
    assert parse_outer({"inner": {"tags": [], "note": "n"}, "size": 3}) == Outer(Inner([], "n"), 3)
    with pytest.raises(SettingsError) as caught:
        parse_outer({"inner": {"tags": ["a", 2]}, "size": "x"})
    assert caught.value.errors == [
        "inner.tags[1]: expected string, got integer",
        "size: expected integer, got string",
    ]
    with pytest.raises(SettingsError) as caught:
        parse_outer({})
    assert caught.value.errors == ["inner.tags: required key is missing"]
    assert str(caught.value) == "<defaults>: inner.tags: required key is missing"


# --- the documented example ------------------------------------------------------------------


def dotted_fields(cls: Any, prefix: str = "") -> list[str]:
    """Every YAML key of a settings dataclass, sections included, as dotted paths."""
    hints = typing.get_type_hints(cls)
    keys = []
    for f in dataclasses.fields(cls):
        if f.metadata:  # filled from the parse context (base_dir, source), not from YAML
            continue
        keys.append(prefix + f.name)
        if dataclasses.is_dataclass(hints[f.name]):
            keys += dotted_fields(hints[f.name], f"{prefix}{f.name}.")
    return keys


def test_example_config_loads_and_equals_the_defaults() -> None:
    """Except for people: the example gives the console user the README's ops role."""
    s = load_settings(EXAMPLE, env={})
    assert s.source == EXAMPLE
    defaults = Settings.defaults(ROOT)
    assert dataclasses.replace(s, source=None, users=defaults.users, roles=()) == defaults
    [console] = s.users
    assert console.roles == ("admin", "ops") and [r.name for r in s.roles] == ["ops"]


def test_example_config_shows_env_substitution_with_defaults() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    assert "url: ${SQUALL_STORE_URL:-sqlite:///var/squall.db}" in text
    s = load_settings(EXAMPLE, env={"SQUALL_STORE_URL": "mongodb://db/squall"})
    assert s.store.url == "mongodb://db/squall"


def test_example_config_contains_every_key() -> None:
    raw = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    keys = dotted_fields(Settings)
    assert "runners.http.denied_networks" in keys
    for key in keys:
        node = raw
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"{key} is not in {EXAMPLE.name}"
            node = node[part]


def test_example_config_documents_every_key_with_a_comment() -> None:
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    key_line = re.compile(r"^(\s*)([a-z_]+):")
    for number, line in enumerate(lines):
        match = key_line.match(line)
        if match is None:
            continue
        previous = lines[number - 1]
        assert previous.strip().startswith("#"), (
            f"line {number + 1}: {line.strip()} is undocumented"
        )
        assert previous.startswith(match.group(1) + "#"), f"line {number + 1}: comment indent"


# --- webhooks ---------------------------------------------------------------------------------


def test_webhook_hooks_parse_every_auth_kind(tmp_path: Path) -> None:
    text = (
        "webhooks:\n"
        "  max_body_bytes: 2048\n"
        "  hooks:\n"
        "    /gh/:\n"
        "      auth: {preset: github, secret: '${GH_SECRET}'}\n"
        "    open:\n"
        "      auth: none\n"
        "    custom:\n"
        "      auth: {type: hmac, header: X-Sig, algorithm: sha512, encoding: base64,"
        " prefix: 'v=', secret: s3}\n"
    )
    s = load_settings(write(tmp_path, text), env={"GH_SECRET": "topsecret"})
    assert s.webhooks.max_body_bytes == 2048
    gh = s.webhooks.auth_for("gh")
    assert gh is not None and gh.label == "github" and gh.secret == b"topsecret"
    assert "topsecret" not in repr(gh)
    opened = s.webhooks.auth_for("open")
    assert opened is not None and opened.kind == "none" and opened.label == "none"
    custom = s.webhooks.auth_for("custom")
    assert custom is not None and custom.scheme is not None
    assert (custom.label, custom.scheme.algorithm, custom.scheme.prefix) == ("hmac", "sha512", "v=")
    assert s.webhooks.auth_for("missing") is None


def test_webhook_defaults(tmp_path: Path) -> None:
    s = Settings.defaults(tmp_path)
    assert s.webhooks.max_body_bytes == 1_048_576
    assert s.webhooks.hooks == {}


@pytest.mark.parametrize(
    ("auth", "error"),
    [
        ("nope", "expected 'none' or a mapping"),
        ("{preset: gitlab, secret: x}", "preset: must be one of github, slack, stripe, hmac"),
        ("{preset: github}", "secret: is required"),
        ("{type: hmac, secret: x}", "header: is required"),
        ("{preset: github, secret: x, colour: red}", "colour: unknown field"),
    ],
)
def test_webhook_auth_errors_name_the_hook(tmp_path: Path, auth: str, error: str) -> None:
    text = f"webhooks:\n  hooks:\n    gh:\n      auth: {auth}\n"
    errors = errors_of(tmp_path, text)
    assert len(errors) == 1
    assert errors[0].startswith("webhooks.hooks.gh.auth: ")
    assert error in errors[0]


def test_webhook_hooks_must_be_a_mapping_of_entries(tmp_path: Path) -> None:
    assert errors_of(tmp_path, "webhooks:\n  hooks: [a]\n") == [
        "webhooks.hooks: expected mapping, got list"
    ]
    assert errors_of(tmp_path, "webhooks:\n  hooks:\n    gh: {}\n") == [
        "webhooks.hooks.gh.auth: required key is missing"
    ]
    assert errors_of(tmp_path, "webhooks:\n  hooks:\n    1: {auth: none}\n") == [
        "webhooks.hooks.1: keys must be strings"
    ]


def test_webhook_secret_env_errors_are_reported(tmp_path: Path) -> None:
    text = "webhooks:\n  hooks:\n    gh:\n      auth: {preset: github, secret: '${NOPE}'}\n"
    errors = errors_of(tmp_path, text)
    assert len(errors) == 1 and errors[0].startswith("webhooks.hooks.gh.auth: ")
    assert "NOPE" in errors[0]


@dataclass(frozen=True)
class _Limits:
    sizes: dict[str, int] = dataclasses.field(default_factory=dict)


def test_parser_reads_dict_of_str_with_item_paths(tmp_path: Path) -> None:
    ctx = Context(base_dir=tmp_path, env={"N": "7"})
    parsed = parse_document(_Limits, {"sizes": {"a": 1, "b": "${N}"}}, ctx)
    assert parsed.sizes == {"a": 1, "b": 7}
    with pytest.raises(SettingsError) as caught:
        parse_document(_Limits, {"sizes": {"a": "x", "b": True}}, Context(base_dir=tmp_path))
    assert caught.value.errors == [
        "sizes.a: expected integer, got string",
        "sizes.b: expected integer, got boolean",
    ]


# --- unsafe combinations are refused (issue 16 §8, security.md row 50) ----------------------
OPEN_HOOK = "webhooks: {hooks: {open: {auth: none}}%s}\n"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "squall.example.com"])
def test_a_public_listener_with_an_auth_none_hook_is_refused(tmp_path: Path, host: str) -> None:
    [error] = errors_of(tmp_path, f"http: {{host: '{host}'}}\n" + OPEN_HOOK % "")
    assert f"http.host: {host} is reachable from other machines" in error
    assert "webhooks.hooks.open has auth: none" in error
    assert "webhooks.allow_unauthenticated_public: true" in error


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_a_loopback_listener_may_have_auth_none_hooks(tmp_path: Path, host: str) -> None:
    settings = load_settings(write(tmp_path, f"http: {{host: '{host}'}}\n" + OPEN_HOOK % ""))
    assert settings.webhooks.open_hooks() == ["open"]


def test_a_public_auth_none_hook_can_be_accepted_explicitly(tmp_path: Path) -> None:
    text = "http: {host: 0.0.0.0}\n" + OPEN_HOOK % ", allow_unauthenticated_public: true"
    assert load_settings(write(tmp_path, text)).webhooks.allow_unauthenticated_public
    # Without an auth: none hook, 0.0.0.0 needs no flag (the others need a key or signature).
    assert load_settings(write(tmp_path, "http: {host: 0.0.0.0}\n")).http.host == "0.0.0.0"


def test_serve_roles_override_the_cluster_roles(tmp_path: Path) -> None:
    from bot.cli.commands import with_roles
    from bot.settings.errors import SettingsError as RolesError

    settings = with_roles(Settings.defaults(tmp_path), "engine, http")
    assert settings.cluster.roles == ("engine", "http")
    assert settings.cluster.has("engine") and not settings.cluster.has("timers")
    for bad in ("engine,bogus", " , "):
        with pytest.raises(RolesError, match="--roles: expected a comma-separated list"):
            with_roles(settings, bad)


def test_cluster_renewal_must_be_shorter_than_the_lease(tmp_path: Path) -> None:
    errors = errors_of(tmp_path, "cluster: {lease_seconds: 5, renew_seconds: 5}\n")
    assert errors == ["cluster: renew_seconds (5.0) must be below lease_seconds (5.0)"]

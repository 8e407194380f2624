"""The users: and roles: settings sections: parsed once, safe defaults, errors with paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, load_settings
from core.authz.authorizer import Authorizer
from core.models.chat import ChatIdentity

CONFIG = """
users:
  alice: {identities: ["slack:T01:U01", "console:local:alice"], roles: [ops]}
roles:
  ops:
    - allow: {actions: ["core.local"], parameters: {cmd: "^(uptime|df -h)$"}}
    - deny: {actions: ["core.local_sudo"]}
"""


def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "squall.yaml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path, env={})


def errors_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load(tmp_path, text)
    return caught.value.errors


def test_defaults_make_the_console_an_admin_and_strangers_powerless(tmp_path: Path) -> None:
    authz = Authorizer(Settings.defaults(tmp_path).authz)
    console = authz.user_for(ChatIdentity("console", "local", "console"))
    assert console.name == "console"
    assert authz.check(console, action_ref="core.local", parameters={"cmd": "rm -rf /"}).allowed
    stranger = authz.user_for(ChatIdentity("slack", "T01", "console"))
    assert stranger.roles == ("default",)
    assert not authz.check(stranger, action_ref="core.echo").allowed
    assert not authz.may_see(stranger, action_ref="core.echo", alias_ref=None, channel=None)


def test_configured_users_and_roles(tmp_path: Path) -> None:
    authz = Authorizer(load(tmp_path, CONFIG).authz)
    alice = authz.user_for(ChatIdentity("slack", "T01", "U01"))
    assert alice.roles == ("ops", "default")
    assert authz.check(alice, action_ref="core.local", parameters={"cmd": "uptime"}).allowed
    assert not authz.check(alice, action_ref="core.local", parameters={"cmd": "rm -rf /"}).allowed
    # A users: section replaces the default console admin.
    console = authz.user_for(ChatIdentity("console", "local", "console"))
    assert not authz.check(console, action_ref="core.noop").allowed


def test_rule_errors_are_reported_with_their_path(tmp_path: Path) -> None:
    text = "roles:\n  ops:\n    - allow: {actions: [x], parameters: {cmd: '(a'}}\n"
    errors = errors_of(tmp_path, text)
    assert len(errors) == 1 and errors[0].startswith("roles.ops[0].allow.parameters.cmd: invalid")


def test_unknown_role_and_duplicate_identity_are_errors(tmp_path: Path) -> None:
    text = (
        "users:\n"
        "  a: {identities: ['slack:T:U1'], roles: [nope]}\n"
        "  b: {identities: ['slack:T:U1']}\n"
    )
    assert errors_of(tmp_path, text) == [
        "(top level): users.a.roles[0]: unknown role 'nope'; "
        "users.b.identities[0]: 'slack:T:U1' already belongs to user 'a'"
    ]


def test_env_substitution_reaches_rules(tmp_path: Path) -> None:
    path = tmp_path / "squall.yaml"
    path.write_text("roles:\n  ops:\n    - allow: {actions: ['${PACK}.*']}\n", encoding="utf-8")
    settings = load_settings(path, env={"PACK": "deploy"})
    assert settings.roles[0].rules[0].actions == ("deploy.*",)

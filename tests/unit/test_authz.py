"""Permissions: identities → users → roles → allow/deny rules (core.authz)."""

from __future__ import annotations

from typing import Any

import pytest

from core.authz.authorizer import (
    Authorizer,
    AuthzConfig,
    PermissionRule,
    Role,
    SquallUser,
    UserSpec,
    authorize_execution,
)
from core.authz.config import AuthzConfigError, parse_roles, parse_users
from core.models.chat import ChatIdentity

ALICE = ChatIdentity("slack", "T01", "U01")
BOB = ChatIdentity("slack", "T01", "U02")
STRANGER = ChatIdentity("slack", "T01", "U99")

ROLES_YAML: dict[str, Any] = {
    "default": [{"allow": {"aliases": ["core.echo"]}}],
    "ops": [
        {"allow": {"actions": ["core.local"], "parameters": {"cmd": "^(uptime|df -h)$"}}},
        {"deny": {"actions": ["core.local_sudo"]}},
        {"allow": {"actions": ["deploy.*"], "channels": ["C0OPS", "C0DEV*"]}},
        {"deny": {"actions": ["deploy.*"], "parameters": {"env": "prod"}}},
    ],
    "admin": [{"allow": {"actions": ["*"]}}],
}
USERS_YAML: dict[str, Any] = {
    "alice": {"identities": ["slack:T01:U01", "console:local:alice"], "roles": ["admin"]},
    "bob": {"identities": ["slack:T01:U02"], "roles": ["ops"]},
}


@pytest.fixture
def authz() -> Authorizer:
    return Authorizer(AuthzConfig(parse_users(USERS_YAML), parse_roles(ROLES_YAML)))


def test_identity_maps_to_configured_user_with_default_role(authz: Authorizer) -> None:
    bob = authz.user_for(BOB)
    assert bob == SquallUser("bob", ("ops", "default"), BOB)
    assert authz.has_role(bob, "ops") and not authz.has_role(bob, "admin")
    console_alice = authz.user_for(ChatIdentity("console", "local", "alice"))
    assert console_alice.name == "alice"


def test_unknown_identity_is_named_after_its_key_with_only_the_default_role(
    authz: Authorizer,
) -> None:
    stranger = authz.user_for(STRANGER)
    assert stranger == SquallUser("slack:T01:U99", ("default",), STRANGER)
    # Same user id in another workspace is another person.
    assert authz.user_for(ChatIdentity("slack", "T02", "U01")).name == "slack:T02:U01"


def test_parameter_constraint_blocks_rm_rf_and_allows_uptime(authz: Authorizer) -> None:
    bob = authz.user_for(BOB)
    allowed = authz.check(bob, action_ref="core.local", parameters={"cmd": "uptime"})
    assert allowed.allowed and allowed.rule == "roles.ops[0]"
    refused = authz.check(bob, action_ref="core.local", parameters={"cmd": "rm -rf /"})
    assert not refused.allowed
    assert refused.rule == "roles.ops[0]"
    assert "'cmd'" in refused.reason and "rm -rf" not in refused.reason  # values never quoted


@pytest.mark.parametrize(
    "cmd", ["uptime; rm -rf /", "uptime\nrm -rf /", " uptime", "df -hx", "UPTIME"]
)
def test_parameter_regex_must_match_the_whole_value(authz: Authorizer, cmd: str) -> None:
    decision = authz.check(authz.user_for(BOB), action_ref="core.local", parameters={"cmd": cmd})
    assert not decision.allowed


def test_missing_parameter_is_checked_as_empty(authz: Authorizer) -> None:
    bob = authz.user_for(BOB)
    assert not authz.check(bob, action_ref="core.local").allowed
    lenient = Authorizer(
        AuthzConfig(
            (UserSpec("u", ("a:b:c",), ("r",)),),
            (Role("r", (PermissionRule("allow", actions=("x.y",), parameters={"n": "[0-9]*"}),)),),
        )
    )
    user = lenient.user_for(ChatIdentity("a", "b", "c"))
    assert lenient.check(user, action_ref="x.y").allowed
    assert lenient.check(user, action_ref="x.y", parameters={"n": 42}).allowed
    assert not lenient.check(user, action_ref="x.y", parameters={"n": [1]}).allowed


def test_deny_beats_allow(authz: Authorizer) -> None:
    alice = authz.user_for(ALICE)
    assert authz.check(alice, action_ref="core.local_sudo").allowed  # admin
    both = SquallUser("carol", ("admin", "ops"))
    decision = authz.check(both, action_ref="core.local_sudo")
    assert not decision.allowed
    assert decision.rule == "roles.ops[1]" and decision.reason == "denied by roles.ops[1]"


def test_deny_with_parameter_applies_only_to_matching_values(authz: Authorizer) -> None:
    bob = authz.user_for(BOB)
    ok = authz.check(bob, action_ref="deploy.app", channel="C0OPS", parameters={"env": "staging"})
    assert ok.allowed
    prod = authz.check(bob, action_ref="deploy.app", channel="C0OPS", parameters={"env": "prod"})
    assert not prod.allowed and prod.rule == "roles.ops[3]"


def test_channel_globs(authz: Authorizer) -> None:
    bob = authz.user_for(BOB)
    assert authz.check(bob, action_ref="deploy.app", channel="C0DEV42").allowed
    elsewhere = authz.check(bob, action_ref="deploy.app", channel="C0RANDOM")
    assert not elsewhere.allowed
    assert elsewhere.reason == (
        "no rule of role(s) ops, default allows action deploy.app in channel C0RANDOM"
    )
    # A channel rule never matches a request from no channel (the CLI).
    assert not authz.check(bob, action_ref="deploy.app").allowed


def test_alias_rules_need_the_alias(authz: Authorizer) -> None:
    stranger = authz.user_for(STRANGER)
    assert authz.check(stranger, action_ref="core.echo", alias_ref="core.echo").allowed
    typed = authz.check(stranger, action_ref="core.echo")
    assert not typed.allowed and typed.rule is None
    assert typed.reason == "no rule of role(s) default allows action core.echo"
    via = authz.check(stranger, action_ref="core.local", alias_ref="ops.uptime")
    assert via.reason == "no rule of role(s) default allows action core.local (alias ops.uptime)"


def test_may_see_ignores_parameter_constraints_but_not_plain_denies(authz: Authorizer) -> None:
    bob = authz.user_for(BOB)
    assert authz.may_see(bob, action_ref="core.local", alias_ref=None, channel="C1")
    assert authz.may_see(bob, action_ref="deploy.app", alias_ref=None, channel="C0OPS")
    assert not authz.may_see(bob, action_ref="deploy.app", alias_ref=None, channel="C1")
    both = SquallUser("carol", ("admin", "ops"))
    assert not authz.may_see(both, action_ref="core.local_sudo", alias_ref=None, channel=None)
    assert authz.may_see(both, action_ref="core.noop", alias_ref=None, channel=None)
    stranger = authz.user_for(STRANGER)
    assert not authz.may_see(stranger, action_ref="core.local", alias_ref=None, channel=None)


def test_user_named(authz: Authorizer) -> None:
    assert authz.user_named("bob") == SquallUser("bob", ("ops", "default"))
    assert authz.user_named("nobody") is None


# --- configuration errors name their path ------------------------------------------------


X = ["x"]


@pytest.mark.parametrize(
    ("rules", "error"),
    [
        ([{"allow": {"actions": X, "parameters": {"p": "(a"}}}], "[0].allow.parameters.p: invalid"),
        ([{"allow": {"actions": X, "parameters": {"p": "(a)\\1"}}}], "[0].allow.parameters.p: inv"),
        ([{"allow": {"actions": X, "parameters": {"p": 3}}}], "[0].allow.parameters.p: expected a"),
        ([{"allow": {"channels": ["C1"]}}], "[0].allow: a rule needs aliases or actions"),
        ([{"permit": {"actions": X}}], "[0]: expected one key, allow or deny"),
        ([{"allow": {"action": X}}], "[0].allow.action: unknown key"),
        ([{"deny": {"actions": "x"}}], "[0].deny.actions: expected a list of strings"),
        ({"allow": {}}, ": expected a list"),
    ],
)
def test_role_errors_name_the_path(rules: object, error: str) -> None:
    with pytest.raises(AuthzConfigError) as caught:
        parse_roles({"r": rules})
    assert len(caught.value.errors) == 1
    assert caught.value.errors[0].startswith("roles.r" + error), caught.value.errors


def test_user_errors_name_the_path() -> None:
    with pytest.raises(AuthzConfigError) as caught:
        parse_users({"a": {"identities": ["slack-U01"], "role": ["x"]}, "b": {"roles": "x"}})
    assert caught.value.errors == [
        "users.a.role: unknown key (expected one of identities, roles)",
        "users.a.identities[0]: expected adapter:workspace:user_id, got 'slack-U01'",
        "users.b.roles: expected a list of strings",
    ]


def test_config_refuses_unknown_roles_and_shared_identities() -> None:
    users = parse_users(
        {
            "a": {"identities": ["slack:T:U1"], "roles": ["ops", "default"]},
            "b": {"identities": ["slack:T:U1"], "roles": []},
        }
    )
    with pytest.raises(ValueError) as caught:
        AuthzConfig(users, parse_roles({"admin": []}))
    assert str(caught.value) == (
        "users.a.roles[0]: unknown role 'ops'; "
        "users.b.identities[0]: 'slack:T:U1' already belongs to user 'a'"
    )


SHELL_SCHEMA: dict[str, dict[str, Any]] = {
    "cmd": {"type": "string"},
    "env": {"type": "object"},
    "cwd": {"type": "string"},
    "timeout": {"type": "integer", "default": 60},
}


def test_a_rule_with_parameter_constraints_is_an_allow_list(authz: Authorizer) -> None:
    bob = authz.user_for(BOB)

    def check(**values: Any) -> bool:
        return authorize_execution(
            authz, bob, action_ref="core.local", schema=SHELL_SCHEMA, parameters=values,
            fixed={"cwd": "/srv"},
        ).allowed  # fmt: skip

    assert check(cmd="uptime", timeout=60)  # a default is no change
    assert check(cmd="uptime", cwd="/srv")  # set by the alias, not by the user
    assert not check(cmd="uptime", timeout=5)
    assert not check(cmd="uptime", cwd="/")
    assert not check(cmd="uptime", env={"PATH": "/tmp"})
    refused = authorize_execution(
        authz, bob, action_ref="core.local", schema=SHELL_SCHEMA,
        parameters={"cmd": "uptime", "kwarg_op": "-x"},
    )  # fmt: skip
    assert refused.reason.startswith("parameter 'kwarg_op' is not allowed by roles.ops[0]")


@pytest.mark.parametrize("key", ["BASH_FUNC_uptime%%", "A B", "1X", "X=Y", ""])
def test_env_keys_must_be_variable_names_even_for_admins(authz: Authorizer, key: str) -> None:
    alice = authz.user_for(ALICE)  # admin
    decision = authorize_execution(
        authz, alice, action_ref="core.local", schema=SHELL_SCHEMA,
        parameters={"cmd": "uptime", "env": {key: "() { id; }"}},
    )  # fmt: skip
    assert not decision.allowed and "env" in decision.reason


@pytest.mark.parametrize("action", ["packs.install", "packs.uninstall", "packs.install_packs"])
def test_pack_management_needs_the_admin_role_not_just_an_action_glob(action: str) -> None:
    roles = parse_roles({"everything": [{"allow": {"actions": ["*"]}}]})
    users = parse_users({
        "root": {"identities": ["slack:T01:U01"], "roles": ["admin"]},
        "dev": {"identities": ["slack:T01:U02"], "roles": ["everything"]},
    })  # fmt: skip
    authz = Authorizer(AuthzConfig(users, roles))
    params = {"packs": ["file:///tmp/p"]}

    def decide(identity: ChatIdentity) -> Any:
        return authorize_execution(
            authz, authz.user_for(identity), action_ref=action, schema={}, parameters=params
        )

    refused = decide(BOB)
    assert not refused.allowed and "admin role only" in refused.reason
    assert decide(ALICE).allowed
    # The glob still allows everything else.
    assert authorize_execution(
        authz, authz.user_for(BOB), action_ref="core.local", schema=SHELL_SCHEMA,
        parameters={"cmd": "uptime"},
    ).allowed  # fmt: skip

"""Who may run what: chat identities → Squall users → roles → allow/deny rules. Pure, no I/O.

A rule targets actions and/or aliases by glob, optionally only in some channels and only for
parameter values that fully match a regex. Deny beats allow; when nothing allows, the answer is
no. Typed commands, slash commands, button clicks, approvals and ``help`` all ask here.
Decisions never quote parameter values: they may be secrets.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any, Final, Literal

from core.models.chat import ChatIdentity, ChatPlace
from core.runners.types import bad_env_name

__all__ = [
    "BUILTIN_ROLES",
    "Authorizer",
    "AuthzConfig",
    "Decision",
    "PermissionRule",
    "Role",
    "SquallUser",
    "UserSpec",
    "authorize_execution",
    "execution_context",
    "fullmatcher",
]

Effect = Literal["allow", "deny"]


@lru_cache(maxsize=512)
def fullmatcher(pattern: str) -> Callable[[str], bool]:
    """A linear-time predicate: does the WHOLE text match ``pattern`` (RE2 syntax)?

    Raises ``ValueError`` for a pattern RE2 cannot compile (including backreferences and
    lookarounds, which could make a check take unbounded time).
    """
    # RE2 (a C++ library, ~1.4 MB resident) loads with the first permission regex, not at
    # start-up; matchers are cached, so this import runs once per pattern at most.
    import re2  # type: ignore[import-untyped]

    options = re2.Options()
    options.log_errors = False
    try:
        compiled = re2.compile(pattern, options)
    except re2.error as exc:
        raise ValueError(f"invalid or unsupported regex {pattern!r} (RE2 syntax): {exc}") from None
    return lambda text: compiled.fullmatch(text) is not None


@dataclass(frozen=True)
class PermissionRule:
    """One allow or deny line of a role. Empty ``channels`` means every channel (and none)."""

    effect: Effect
    aliases: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    parameters: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.aliases and not self.actions:
            raise ValueError("a rule needs aliases or actions (use ['*'] for everything)")
        for pattern in self.parameters.values():
            fullmatcher(pattern)

    def targets(self, action_ref: str, alias_ref: str | None, channel: str | None) -> bool:
        """Whether the rule is about this request, parameters aside."""
        if self.actions and not _any_glob(self.actions, action_ref):
            return False
        if self.aliases and (alias_ref is None or not _any_glob(self.aliases, alias_ref)):
            return False
        return not self.channels or (channel is not None and _any_glob(self.channels, channel))

    def first_mismatch(self, parameters: Mapping[str, Any]) -> str | None:
        """The first constrained parameter whose value does not fully match, else None.

        A parameter the request lacks is checked as the empty string: callers pass the values
        the action will get (defaults applied), so a missing one really is empty.
        """
        for name, pattern in self.parameters.items():
            if not fullmatcher(pattern)(as_text(parameters.get(name))):
                return name
        return None

    def first_unnamed(
        self, parameters: Mapping[str, Any], defaults: Mapping[str, Any]
    ) -> str | None:
        """An allow rule that constrains parameters is an allow-list: the first parameter it
        does not name whose value is set and differs from its default (``env``, ``cwd``,
        ``sudo``… would otherwise ride along with an allowed ``cmd``), else None."""
        if not self.parameters:
            return None
        for name in sorted(parameters):
            value = parameters[name]
            if name in self.parameters or value is None or value == defaults.get(name):
                continue
            return name
        return None


@dataclass(frozen=True)
class Role:
    name: str
    rules: tuple[PermissionRule, ...] = ()


@dataclass(frozen=True)
class UserSpec:
    """A configured user: exact identity keys (``slack:T0123:U0456``) and role names."""

    name: str
    identities: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()


# Always defined unless configured otherwise: ``default`` allows nothing (only the built-in
# chat commands work), ``admin`` allows everything.
BUILTIN_ROLES: tuple[Role, ...] = (
    Role("default"),
    Role("admin", (PermissionRule("allow", actions=("*",)),)),
)


@dataclass(frozen=True)
class AuthzConfig:
    """Users and roles as configured; checked for unknown roles and shared identities."""

    users: tuple[UserSpec, ...] = ()
    roles: tuple[Role, ...] = ()
    default_role: str = "default"

    def __post_init__(self) -> None:
        problems = list(_config_problems(self))
        if problems:
            raise ValueError("; ".join(problems))

    def all_roles(self) -> dict[str, Role]:
        """The built-in roles, replaced by configured roles of the same name, plus the rest."""
        return {role.name: role for role in (*BUILTIN_ROLES, *self.roles)}


def _config_problems(config: AuthzConfig) -> Iterator[str]:
    known = set(config.all_roles()) | {config.default_role}
    owner: dict[str, str] = {}
    for user in config.users:
        for index, role in enumerate(user.roles):
            if role not in known:
                yield f"users.{user.name}.roles[{index}]: unknown role {role!r}"
        for index, identity in enumerate(user.identities):
            if identity in owner and owner[identity] != user.name:
                yield (
                    f"users.{user.name}.identities[{index}]: {identity!r} already belongs to "
                    f"user {owner[identity]!r}"
                )
            owner.setdefault(identity, user.name)


@dataclass(frozen=True)
class SquallUser:
    """Who acts. Unknown chat identities are users named after their identity key."""

    name: str
    roles: tuple[str, ...]
    identity: ChatIdentity | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    rule: str | None = None  # e.g. "roles.ops[0]"


class Authorizer:
    """Answers permission questions from one ``AuthzConfig``; cheap, synchronous, pure."""

    def __init__(self, config: AuthzConfig) -> None:
        self.config = config
        self._roles = config.all_roles()
        self._users = {user.name: user for user in config.users}
        self._by_identity = {key: user for user in config.users for key in user.identities}

    def user_for(self, identity: ChatIdentity) -> SquallUser:
        spec = self._by_identity.get(identity.key)
        if spec is None:
            return SquallUser(identity.key, (self.config.default_role,), identity)
        return SquallUser(spec.name, self._roles_of(spec), identity)

    def user_named(self, name: str) -> SquallUser | None:
        """A configured user by name (for the CLI and tests), without a chat identity."""
        spec = self._users.get(name)
        return None if spec is None else SquallUser(spec.name, self._roles_of(spec))

    def has_role(self, user: SquallUser, role: str) -> bool:
        return role in user.roles

    def check(
        self,
        user: SquallUser,
        *,
        action_ref: str,
        alias_ref: str | None = None,
        channel: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Deny beats allow; an allow rule with parameter constraints also refuses parameters
        it does not name unless they equal ``defaults`` (see ``authorize_execution``)."""
        params = parameters or {}
        known = defaults or {}
        targeted = [
            (label, rule)
            for label, rule in self._rules_of(user)
            if rule.targets(action_ref, alias_ref, channel)
        ]
        for label, rule in targeted:
            if rule.effect == "deny" and rule.first_mismatch(params) is None:
                return Decision(False, f"denied by {label}", label)
        refused: Decision | None = None
        for label, rule in targeted:
            if rule.effect != "allow":
                continue
            mismatch = rule.first_mismatch(params)
            unnamed = rule.first_unnamed(params, known) if mismatch is None else None
            if mismatch is None and unnamed is None:
                return Decision(True, f"allowed by {label}", label)
            if refused is None:
                if mismatch is not None:
                    pattern = rule.parameters[mismatch]
                    reason = (
                        f"parameter {mismatch!r} does not match {pattern!r} required by {label}"
                    )
                else:
                    reason = (
                        f"parameter {unnamed!r} is not allowed by {label} (it only allows "
                        f"{', '.join(sorted(rule.parameters))}; others must keep their defaults)"
                    )
                refused = Decision(False, reason, label)
        if refused is not None:
            return refused
        return Decision(False, _nothing_allows(user, action_ref, alias_ref, channel))

    def may_see(
        self, user: SquallUser, *, action_ref: str, alias_ref: str | None, channel: str | None
    ) -> bool:
        """For ``help``: allowed for some parameter values (a parameter-free deny hides it)."""
        targeted = [
            rule for _, rule in self._rules_of(user) if rule.targets(action_ref, alias_ref, channel)
        ]
        if any(rule.effect == "deny" and not rule.parameters for rule in targeted):
            return False
        return any(rule.effect == "allow" for rule in targeted)

    def _roles_of(self, spec: UserSpec) -> tuple[str, ...]:
        # Everyone has the default role, so a deny there applies to every user.
        return tuple(dict.fromkeys((*spec.roles, self.config.default_role)))

    def _rules_of(self, user: SquallUser) -> Iterator[tuple[str, PermissionRule]]:
        for name in user.roles:
            role = self._roles.get(name)
            for index, rule in enumerate(role.rules if role else ()):
                yield f"roles.{name}[{index}]", rule


# Their actions change what Squall runs (install or remove packs): like StackStorm's
# ``pack_install`` permission, never granted by an action glob such as ``"*"``.
ADMIN_ONLY_PACKS: Final = frozenset({"packs"})


def authorize_execution(
    authz: Authorizer,
    user: SquallUser,
    *,
    action_ref: str,
    schema: Mapping[str, Mapping[str, Any]],
    parameters: Mapping[str, Any],
    alias_ref: str | None = None,
    channel: str | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> Decision:
    """THE permission check for starting (or stopping) an execution, on every path: chat text,
    slash commands, buttons, typed ``rerun``, approvals, the CLI and the API.

    ``schema`` is the action's merged parameter schema (runner parameters included) and
    ``parameters`` the values the action will get (defaults applied). A rule that constrains
    some parameters refuses every other one the request sets to a non-default value; ``fixed``
    are values the request's alias set itself (its ``immutable_parameters``), which count as
    defaults. ``env`` keys must be variable names whatever the rules say.
    """
    if bad_env_name(parameters):
        return Decision(False, "parameter 'env' has a key that is not a variable name")
    if action_ref.partition(".")[0] in ADMIN_ONLY_PACKS and not authz.has_role(user, "admin"):
        return Decision(False, f"{action_ref} changes the content Squall runs: admin role only")
    defaults = {name: meta.get("default") for name, meta in schema.items()}
    defaults.update(fixed or {})
    return authz.check(
        user,
        action_ref=action_ref,
        alias_ref=alias_ref,
        channel=channel,
        parameters=parameters,
        defaults=defaults,
    )


def _any_glob(patterns: tuple[str, ...], value: str) -> bool:
    return any(fnmatchcase(value, pattern) for pattern in patterns)


def _nothing_allows(
    user: SquallUser, action_ref: str, alias_ref: str | None, channel: str | None
) -> str:
    what = f"action {action_ref}" + (f" (alias {alias_ref})" if alias_ref else "")
    where = f" in channel {channel}" if channel else ""
    roles = ", ".join(user.roles) or "none"
    return f"no rule of role(s) {roles} allows {what}{where}"


def execution_context(user: SquallUser, place: ChatPlace | None) -> dict[str, Any]:
    """The ``context`` of an execution a user started: ``user`` and, from chat, ``chat``."""
    context: dict[str, Any] = {"user": user.name}
    if place is not None:
        context["chat"] = place.to_context()
    return context


def as_text(value: Any) -> str:
    """The text a parameter regex sees: strings as they are, the rest as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)

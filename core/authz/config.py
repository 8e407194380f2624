"""The ``users:`` and ``roles:`` settings sections as YAML trees → core.authz.authorizer values.

Shapes (every error names its dotted path)::

    users:
      alice: {identities: ["slack:T01:U01"], roles: [ops]}
    roles:
      ops:
        - allow: {actions: ["core.local"], parameters: {cmd: "^(uptime|df -h)$"}}
        - deny: {actions: ["core.local_sudo"], channels: ["C0PUBLIC"]}
"""

from __future__ import annotations

from typing import Any, cast

from core.authz.authorizer import Effect, PermissionRule, Role, UserSpec, fullmatcher

__all__ = ["AuthzConfigError", "parse_roles", "parse_users"]

_RULE_KEYS = ("aliases", "actions", "channels", "parameters")
_USER_KEYS = ("identities", "roles")


class AuthzConfigError(ValueError):
    """Every problem found, each as ``path: message``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def parse_roles(raw: object, path: str = "roles") -> tuple[Role, ...]:
    errors: list[str] = []
    roles = [
        Role(name, tuple(_rules(rules, f"{path}.{name}", errors)))
        for name, rules in _mapping(raw, path, errors).items()
    ]
    if errors:
        raise AuthzConfigError(errors)
    return tuple(roles)


def parse_users(raw: object, path: str = "users") -> tuple[UserSpec, ...]:
    errors: list[str] = []
    users = [
        _user(name, spec, f"{path}.{name}", errors)
        for name, spec in _mapping(raw, path, errors).items()
    ]
    if errors:
        raise AuthzConfigError(errors)
    return tuple(users)


def _user(name: str, raw: object, path: str, errors: list[str]) -> UserSpec:
    spec = _mapping(raw, path, errors, _USER_KEYS)
    identities = _strings(spec.get("identities", []), f"{path}.identities", errors)
    for index, identity in enumerate(identities):
        if identity.count(":") < 2:
            errors.append(
                f"{path}.identities[{index}]: expected adapter:workspace:user_id, got {identity!r}"
            )
    roles = _strings(spec.get("roles", []), f"{path}.roles", errors)
    return UserSpec(name, identities, roles)


def _rules(raw: object, path: str, errors: list[str]) -> list[PermissionRule]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.append(f"{path}: expected a list of {{allow: …}} / {{deny: …}} rules")
        return []
    parsed = (_rule(item, f"{path}[{index}]", errors) for index, item in enumerate(raw))
    return [rule for rule in parsed if rule is not None]


def _rule(raw: object, path: str, errors: list[str]) -> PermissionRule | None:
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in ("allow", "deny"):
        errors.append(f"{path}: expected one key, allow or deny")
        return None
    effect = cast(Effect, next(iter(raw)))
    path = f"{path}.{effect}"
    before = len(errors)
    body = _mapping(raw[effect], path, errors, _RULE_KEYS)
    parameters = _mapping(body.get("parameters", {}), f"{path}.parameters", errors)
    for name, pattern in parameters.items():
        _check_pattern(pattern, f"{path}.parameters.{name}", errors)
    aliases, actions, channels = (
        _strings(body.get(key, []), f"{path}.{key}", errors) for key in _RULE_KEYS[:3]
    )
    if len(errors) > before:
        return None
    try:
        return PermissionRule(effect, aliases, actions, channels, parameters)
    except ValueError as exc:
        errors.append(f"{path}: {exc}")
        return None


def _check_pattern(pattern: object, path: str, errors: list[str]) -> None:
    if not isinstance(pattern, str):
        errors.append(f"{path}: expected a regex string")
        return
    try:
        fullmatcher(pattern)
    except ValueError as exc:
        errors.append(f"{path}: {exc}")


def _mapping(
    raw: object, path: str, errors: list[str], known: tuple[str, ...] | None = None
) -> dict[str, Any]:
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        errors.append(f"{path}: expected a mapping")
        return {}
    for key in raw:
        if not isinstance(key, str):
            errors.append(f"{path}: keys must be strings, got {key!r}")
        elif known is not None and key not in known:
            errors.append(f"{path}.{key}: unknown key (expected one of {', '.join(known)})")
    return {key: value for key, value in raw.items() if isinstance(key, str)}


def _strings(raw: object, path: str, errors: list[str]) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        errors.append(f"{path}: expected a list of strings")
        return ()
    return tuple(raw)

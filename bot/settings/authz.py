"""The ``users:`` and ``roles:`` settings: parsing hooks and their safe defaults.

Defaults: the terminal's console identity is an admin (whoever types there already runs
processes on this machine); every other identity gets the ``default`` role, empty unless
configured (core.authz.authorizer.BUILTIN_ROLES), so a chat workspace can use only the built-in
commands until roles say more.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.settings.errors import INVALID
from bot.settings.parser import Context
from core.authz.authorizer import Role, UserSpec
from core.authz.config import AuthzConfigError, parse_roles, parse_users

CONSOLE_IDENTITY = "console:local:console"


def default_users() -> tuple[UserSpec, ...]:
    return (UserSpec("console", (CONSOLE_IDENTITY,), ("admin",)),)


def users_setting(value: object, ctx: Context) -> object:
    """``users:`` as UserSpecs; defaults (already UserSpecs) pass through unchanged."""
    return _parsed(value, ctx, UserSpec, parse_users)


def roles_setting(value: object, ctx: Context) -> object:
    """``roles:`` as Roles; defaults (already Roles) pass through unchanged."""
    return _parsed(value, ctx, Role, parse_roles)


def _parsed(
    value: object, ctx: Context, kind: type, parse: Callable[[object], tuple[object, ...]]
) -> object:
    if isinstance(value, tuple) and all(isinstance(item, kind) for item in value):
        return value
    try:
        return parse(value)
    except AuthzConfigError as exc:
        ctx.errors.extend(exc.errors)
        return INVALID

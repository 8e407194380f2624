"""An alias as st2's API shows it (``ActionAliasAPI``): CLI output and template context."""

from __future__ import annotations

from typing import Any

from core.models import Alias, AliasFormat

__all__ = ["SITE_SOURCE", "alias_to_api", "format_to_api"]

SITE_SOURCE = "site"


def format_to_api(format_: AliasFormat) -> str | dict[str, Any]:
    """A plain string format stays a string; anything richer is st2's dict form."""
    plain = (format_.display,) == format_.representations and not format_.match_multiple
    if plain:
        return format_.display
    help_only = format_.representations == ("",) and bool(format_.display)
    return {
        "display": format_.display,
        "representation": [] if help_only else list(format_.representations),
        "match_multiple": format_.match_multiple,
    }


def alias_to_api(alias: Alias) -> dict[str, Any]:
    api: dict[str, Any] = {
        "ref": alias.ref,
        "name": alias.name,
        "pack": alias.pack,
        "description": alias.description,
        "enabled": alias.enabled,
        "action_ref": alias.action_ref,
        "formats": [format_to_api(f) for f in alias.formats],
        "ack": dict(alias.ack),
        "result": dict(alias.result),
        "extra": dict(alias.extra),
        "immutable_parameters": dict(alias.immutable_parameters),
        # Squall's: where it comes from, its pack's name or "site" (``aliases.paths``).
        "source": SITE_SOURCE if alias.site else alias.pack,
    }
    if alias.approval is not None:
        api["approval"] = {
            "approvers": list(alias.approval.approvers),
            "ttl_seconds": alias.approval.ttl_seconds,
            "requester_may_approve": alias.approval.requester_may_approve,
        }
    return api

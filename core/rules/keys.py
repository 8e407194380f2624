"""Criteria keys: st2's JSONPath subset for reading a trigger payload (st2-format §4.2).

``trigger.body.name``, ``trigger.items[0].id``, ``trigger.headers.X-Github-Event`` (hyphens are
part of a name, as in jsonpath_rw), quoted names (``trigger.'a.b'``), wildcards (``trigger.*``,
``trigger.items[*]``) and a ``#n`` suffix so one key can appear several times in a criteria map.
When several nodes match, the first is used; no match means the value is ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

__all__ = ["WILDCARD", "KeyPathError", "find_values", "lookup", "parse_key", "strip_suffix"]


class _Wildcard:
    def __repr__(self) -> str:
        return "WILDCARD"


WILDCARD: Final = _Wildcard()
Step = str | int | _Wildcard

# jsonpath_rw's identifier: letters, digits, '_', '@' and '-' (so header names work unquoted).
_TOKEN = re.compile(
    r"""(?P<dot>\.)?(?:
        (?P<name>[A-Za-z_@][A-Za-z0-9_@\-]*)
      | '(?P<single>[^']*)'
      | "(?P<double>[^"]*)"
      | (?P<star>\*)
    )
    | \[\s*(?:(?P<index>-?\d+)|(?P<all>\*))\s*\]""",
    re.VERBOSE,
)


class KeyPathError(ValueError):
    """A criteria key is not valid JSONPath (as far as st2 rules use it)."""


def strip_suffix(key: str) -> str:
    """``trigger.x#2`` -> ``trigger.x``: the suffix only makes mapping keys unique."""
    return key.partition("#")[0].strip()


def _step(match: re.Match[str]) -> Step:
    if match["index"] is not None:
        return int(match["index"])
    if match["star"] is not None or match["all"] is not None:
        return WILDCARD
    for group in ("name", "single", "double"):
        if match[group] is not None:
            return match[group]
    raise AssertionError("unreachable: the token regex always sets one group")


@lru_cache(maxsize=1024)
def parse_key(key: str) -> tuple[Step, ...]:
    """Parse a key (suffix stripped) into steps; raises ``KeyPathError`` naming the bad spot."""
    path = strip_suffix(key)
    steps: list[Step] = []
    pos = 0
    while pos < len(path):
        match = _TOKEN.match(path, pos)
        is_field = match is not None and match["index"] is None and match["all"] is None
        # Fields after the first need a dot; indexes never take one.
        if match is None or (is_field and bool(match["dot"]) != bool(steps)):
            raise KeyPathError(f"invalid criteria key {key!r} at position {pos}")
        steps.append(_step(match))
        pos = match.end()
    if not steps or not isinstance(steps[0], str):
        raise KeyPathError(f"invalid criteria key {key!r}: it must start with a name")
    return tuple(steps)


def _children(node: Any, step: Step) -> list[Any]:
    if isinstance(step, _Wildcard):
        if isinstance(node, Mapping):
            return list(node.values())
        return list(node) if isinstance(node, list | tuple) else []
    if isinstance(step, int):
        if isinstance(node, list | tuple) and -len(node) <= step < len(node):
            return [node[step]]
        return []
    if isinstance(node, Mapping) and step in node:
        return [node[step]]
    return []


def find_values(root: Mapping[str, Any], key: str) -> list[Any]:
    """Every node ``key`` selects in ``root`` (``{"trigger": payload, ...}``), in order."""
    nodes: list[Any] = [root]
    for step in parse_key(key):
        nodes = [child for node in nodes for child in _children(node, step)]
    return nodes


def lookup(root: Mapping[str, Any], key: str) -> Any:
    """st2's value for a criteria key: the first match, or ``None`` when nothing matches."""
    found = find_values(root, key)
    return found[0] if found else None

"""StackStorm's Jinja filters (st2-format §10.8), as plain functions.

``core.templates.render`` registers them on the one sandboxed environment; size limits are
applied there.
``decrypt_kv`` belongs to the datastore, which registers it with
``core.templates.render.register_filter``.
"""

from __future__ import annotations

import json
import os.path
import re
from collections.abc import Callable, Iterator
from typing import Any

import yaml

# st2's magic string: a template cannot produce None, so ``use_none`` emits this and the
# parameter casts turn it back into None.
NONE_MAGIC_VALUE = "%*****__%NONE%__*****%"

# Indentation is multiplied by nesting depth; a huge indent is an amplification attack.
_MAX_INDENT = 16


def _text(value: Any) -> str:
    # Datastore lookups and other context objects render through str(), like st2's six.text_type.
    return value if isinstance(value, str) else str(value)


def _check_indent(indent: Any) -> None:
    if indent is not None and (not isinstance(indent, int) or not 0 <= indent <= _MAX_INDENT):
        raise ValueError(f"indent must be an integer between 0 and {_MAX_INDENT}")


# --- data formats -------------------------------------------------------------------------------


def to_json_string(
    value: Any,
    indent: int | None = None,
    sort_keys: bool = False,
    separators: tuple[str, str] = (",", ": "),
) -> str:
    _check_indent(indent)
    return json.dumps(value, indent=indent, sort_keys=sort_keys, separators=separators, default=str)


def to_yaml_string(value: Any, indent: int | None = None, allow_unicode: bool = True) -> str:
    _check_indent(indent)
    return yaml.safe_dump(
        value, indent=indent, allow_unicode=allow_unicode, default_flow_style=False
    )


def to_complex(value: Any) -> str:
    return json.dumps(value, default=str)


def json_escape(value: Any) -> str:
    # st2 borrows json.dumps' escaping and drops the surrounding quotes.
    return json.dumps(value, default=str).strip('"')


def from_json_string(value: Any) -> Any:
    return json.loads(_text(value))


def from_yaml_string(value: Any) -> Any:
    return yaml.safe_load(_text(value))


def use_none(value: Any) -> Any:
    return NONE_MAGIC_VALUE if value is None else value


# --- regular expressions ------------------------------------------------------------------------


def _flags(ignorecase: bool) -> int:
    return re.IGNORECASE if ignorecase else 0


def regex_match(value: Any, pattern: str = "", ignorecase: bool = False) -> bool:
    return re.match(pattern, _text(value), _flags(ignorecase)) is not None


def regex_search(value: Any, pattern: str = "", ignorecase: bool = False) -> bool:
    return re.search(pattern, _text(value), _flags(ignorecase)) is not None


def regex_replace(
    value: Any = "", pattern: str = "", replacement: str = "", ignorecase: bool = False
) -> str:
    return re.sub(pattern, replacement, _text(value), flags=_flags(ignorecase))


def regex_substring(
    value: Any, pattern: str = "", result_index: int = 0, ignorecase: bool = False
) -> Any:
    return re.findall(pattern, _text(value), _flags(ignorecase))[result_index]


# --- paths and time -----------------------------------------------------------------------------


def basename(path: Any) -> str:
    return os.path.basename(_text(path))


def dirname(path: Any) -> str:
    return os.path.dirname(_text(path))


def to_human_time_from_seconds(seconds: Any) -> str | None:
    """``3725`` → ``1h2m5s`` like st2 (sub-second values are shown as microseconds)."""
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise ValueError(f"expected a number of seconds, got {type(seconds).__name__}")
    if seconds == 0:
        return "0s"
    if seconds < 1:
        return f"{seconds}\u03bcs"
    left = round(seconds)
    parts: list[int] = []
    for unit in (365 * 86400, 86400, 3600, 60):
        count, left = divmod(left, unit)
        parts.append(count)
    parts.append(left)
    while len(parts) > 1 and parts[0] == 0:
        parts.pop(0)
    suffixes = "ydhms"[-len(parts) :]
    return "".join(f"{n}{s}" for n, s in zip(parts, suffixes, strict=True))


# --- semantic versions (python-semver 2.x behaviour, which st2 uses) ----------------------------

_SEMVER = re.compile(
    r"^(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<prerelease>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)

_VersionKey = tuple[int, int, int, tuple[tuple[int, int, str], ...] | None]


def _parse_version(value: Any) -> _VersionKey:
    match = _SEMVER.match(_text(value))
    if match is None:
        raise ValueError(f"{value!r} is not valid SemVer string")
    pre = match["prerelease"]
    ids = None
    if pre is not None:
        # Numeric identifiers sort before alphanumeric ones (SemVer §11).
        ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return int(match["major"]), int(match["minor"]), int(match["patch"]), ids


def version_compare(value: Any, pattern: Any) -> int:
    left, right = _parse_version(value), _parse_version(pattern)
    if left[:3] != right[:3]:
        return 1 if left[:3] > right[:3] else -1
    lpre, rpre = left[3], right[3]
    if lpre == rpre:
        return 0
    # A release outranks any of its pre-releases.
    if lpre is None or rpre is None:
        return 1 if lpre is None else -1
    return 1 if lpre > rpre else -1


def version_more_than(value: Any, pattern: Any) -> bool:
    return version_compare(value, pattern) == 1


def version_less_than(value: Any, pattern: Any) -> bool:
    return version_compare(value, pattern) == -1


def version_equal(value: Any, pattern: Any) -> bool:
    return version_compare(value, pattern) == 0


_MATCH_OPS: dict[str, Callable[[int], bool]] = {
    ">=": lambda c: c >= 0,
    "<=": lambda c: c <= 0,
    "==": lambda c: c == 0,
    "!=": lambda c: c != 0,
    ">": lambda c: c > 0,
    "<": lambda c: c < 0,
}


def version_match(value: Any, pattern: Any) -> bool:
    """``'1.2.3' | version_match('>=1.0.0')``."""
    text = _text(pattern)
    for op in (">=", "<=", "==", "!=", ">", "<"):
        if text.startswith(op):
            return _MATCH_OPS[op](version_compare(value, text[len(op) :]))
    raise ValueError(f"match_expr parameter should be in format <op><ver>, got {text!r}")


def version_bump_major(value: Any) -> str:
    major, _, _, _ = _parse_version(value)
    return f"{major + 1}.0.0"


def version_bump_minor(value: Any) -> str:
    major, minor, _, _ = _parse_version(value)
    return f"{major}.{minor + 1}.0"


def version_bump_patch(value: Any) -> str:
    major, minor, patch, _ = _parse_version(value)
    return f"{major}.{minor}.{patch + 1}"


def version_strip_patch(value: Any) -> str:
    major, minor, _, _ = _parse_version(value)
    return f"{major}.{minor}"


# --- jsonpath_query (the common subset of jsonpath-rw that st2 packs use) ------------------------

_JSONPATH_TOKEN = re.compile(
    r"\.\.(?P<deep>\w+|\*)|\.(?P<key>\w+|\*)|\[(?P<index>-?\d+|\*)\]|\[['\"](?P<quoted>[^'\"]+)['\"]\]"
)


def _jsonpath_steps(query: str) -> list[tuple[str, str]]:
    text = query.strip()
    text = text[1:] if text.startswith("$") else "." + text
    steps: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        match = _JSONPATH_TOKEN.match(text, pos)
        if match is None:
            raise ValueError(f"unsupported jsonpath expression {query!r}")
        kind = match.lastgroup or "key"
        steps.append(("key" if kind == "quoted" else kind, match[kind]))
        pos = match.end()
    return steps


def _children(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        yield from node.values()
    elif isinstance(node, list):
        yield from node


def _descendants(node: Any) -> Iterator[Any]:
    yield node
    for child in _children(node):
        yield from _descendants(child)


def _step(node: Any, kind: str, arg: str) -> Iterator[Any]:
    if arg == "*":
        yield from _children(node)
    elif kind == "key" and isinstance(node, dict) and arg in node:
        yield node[arg]
    elif kind == "index" and isinstance(node, list) and -len(node) <= int(arg) < len(node):
        yield node[int(arg)]


def jsonpath_query(value: Any, query: str) -> list[Any] | None:
    """Matches of ``query`` in ``value`` as a list, or None when nothing matches (like st2)."""
    nodes = [value]
    for kind, arg in _jsonpath_steps(query):
        if kind == "deep":
            nodes = [d for n in nodes for d in _descendants(n)]
            kind = "key"
        nodes = [found for n in nodes for found in _step(n, kind, arg)]
    return nodes or None


ST2_FILTERS: dict[str, Callable[..., Any]] = {
    "to_json_string": to_json_string,
    "to_yaml_string": to_yaml_string,
    "to_complex": to_complex,
    "json_escape": json_escape,
    "from_json_string": from_json_string,
    "json_parse": from_json_string,
    "from_yaml_string": from_yaml_string,
    "use_none": use_none,
    "regex_match": regex_match,
    "regex_search": regex_search,
    "regex_replace": regex_replace,
    "regex_substring": regex_substring,
    "basename": basename,
    "dirname": dirname,
    "to_human_time_from_seconds": to_human_time_from_seconds,
    "version_compare": version_compare,
    "version_more_than": version_more_than,
    "version_less_than": version_less_than,
    "version_equal": version_equal,
    "version_match": version_match,
    "version_bump_major": version_bump_major,
    "version_bump_minor": version_bump_minor,
    "version_bump_patch": version_bump_patch,
    "version_strip_patch": version_strip_patch,
    "jsonpath_query": jsonpath_query,
}

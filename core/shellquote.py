"""Shell-safe rendering of a shell runner's ``cmd`` template (security.md §0 rule 8).

``core.echo``'s ``cmd`` is ``echo "{{message}}"``: rendered as plain text, a message such as
``$(id)`` runs a command. Before a ``cmd`` template is rendered, every ``{{ expression }}`` is
wrapped in a filter chosen by where it stands in the shell text around it:

* inside double quotes → ``\\``, ``"``, ``$`` and backquote are backslash-escaped;
* inside single quotes → each ``'`` becomes ``'\\''``;
* unquoted → the value becomes one quoted word (``shlex.quote``), or nothing when empty.

So ``echo "{{message}}"`` still prints the message exactly, whatever it contains, and a value can
never add a command or an argument. Only the pack author's text decides the command's shape.
Pure: this module only rewrites template source and defines the three filters.
"""

from __future__ import annotations

import shlex
from enum import Enum
from typing import Any, Final

__all__ = ["SHELL_FILTERS", "shell_quoted_template"]


class _Quote(Enum):
    BARE = "shell_word"
    DOUBLE = "shell_dq"
    SINGLE = "shell_sq"


_OPENERS: Final = ("{{", "{%", "{#")
_CLOSERS: Final = {"{{": "}}", "{%": "%}", "{#": "#}"}
_DQ_SPECIAL: Final = frozenset('\\"$`')


def _text(value: Any) -> str:
    return str(value)


def shell_word(value: Any) -> str:
    text = _text(value)
    return shlex.quote(text) if text else ""


def shell_dq(value: Any) -> str:
    return "".join(f"\\{ch}" if ch in _DQ_SPECIAL else ch for ch in _text(value))


def shell_sq(value: Any) -> str:
    return _text(value).replace("'", "'\\''")


SHELL_FILTERS: Final = {"shell_word": shell_word, "shell_dq": shell_dq, "shell_sq": shell_sq}


def _advance(state: _Quote, text: str) -> _Quote:
    """The quote state after the literal shell ``text``."""
    escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif state is _Quote.SINGLE:
            state = _Quote.BARE if ch == "'" else state
        elif ch == "\\":
            escaped = True
        elif state is _Quote.DOUBLE:
            state = _Quote.BARE if ch == '"' else state
        elif ch == "'":
            state = _Quote.SINGLE
        elif ch == '"':
            state = _Quote.DOUBLE
    return state


def _tag_end(source: str, start: int, closer: str) -> int:
    """Index just past the tag opened at ``start``, skipping string literals inside it."""
    i = start + 2
    quote: str | None = None
    while i < len(source):
        ch = source[i]
        if quote is not None:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"" and closer != "#}":
            quote = ch
        elif source.startswith(closer, i):
            return i + 2
        i += 1
    raise ValueError(f"unclosed {source[start : start + 2]!r} in cmd template")


def _next_tag(source: str, pos: int) -> tuple[int, str] | None:
    found = [(i, op) for op in _OPENERS if (i := source.find(op, pos)) >= 0]
    return min(found) if found else None


def _wrap(tag: str, quote: _Quote) -> str:
    """``{{ expr }}`` → ``{{ (expr) | shell_x }}``, keeping whitespace control markers."""
    head = 3 if tag[2:3] in ("-", "+") else 2
    tail = 3 if tag[-3:-2] in ("-", "+") else 2
    return f"{tag[:head]} ({tag[head:-tail]}) | {quote.value} {tag[-tail:]}"


def shell_quoted_template(source: str) -> str:
    """``source`` with every expression filtered for the shell context it appears in.

    Raises ``ValueError`` for a tag that is never closed (the template could not render).
    """
    out: list[str] = []
    state = _Quote.BARE
    pos = 0
    while (tag := _next_tag(source, pos)) is not None:
        start, opener = tag
        literal = source[pos:start]
        state = _advance(state, literal)
        end = _tag_end(source, start, _CLOSERS[opener])
        raw = source[start:end]
        out += [literal, _wrap(raw, state) if opener == "{{" else raw]
        pos = end
    out.append(source[pos:])
    return "".join(out)

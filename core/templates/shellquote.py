"""Shell-safe rendering of a shell runner's ``cmd`` template (security.md §0 rule 8, row 52).

``core.echo``'s ``cmd`` is ``echo "{{message}}"``: rendered as plain text, a message such as
``$(id)`` runs a command. Before a ``cmd`` template is rendered, every ``{{ expression }}`` is
wrapped in a filter chosen by the shell context it stands in, tracked through nesting:

* inside double quotes → ``\\``, ``"``, ``$`` and backquote are backslash-escaped;
* inside single quotes → each ``'`` becomes ``'\\''``;
* unquoted, also inside ``$( … )``, ``<( … )`` and ``( … )`` (even when those sit inside double
  quotes: a command substitution starts a fresh context) → one quoted word (``shlex.quote``),
  or nothing when empty;
* inside arithmetic (``$(( … ))``, ``(( … ))``, ``$[ … ]``) → an integer or a render error;
* inside backquotes → the above, then escaped once more for the backquote's own backslash pass.

So ``echo "$(echo {{msg}})"`` quotes ``msg`` as a word, not as double-quoted text, and a value can
never add a command or an argument. Where the context cannot be known for sure — a placeholder
in ``${ … }``, a comment, a here-document, ``[[ … ]]``, ``$' … '``, nested backquotes, after
``eval`` or ``let``, or in Jinja blocks whose branches leave the shell in different states —
``shell_quoted_template`` raises ``ValueError`` instead of guessing. Pure: rewrites template
source and defines the filters.
"""

from __future__ import annotations

import re
import shlex
from typing import Any, Final

__all__ = ["SHELL_FILTERS", "shell_quoted_template"]

_OPENERS: Final = ("{{", "{%", "{#")
_CLOSERS: Final = {"{{": "}}", "{%": "%}", "{#": "#}"}
_DQ_SPECIAL: Final = frozenset('\\"$`')
_BQ_SPECIAL: Final = frozenset("\\$`")
_INTEGER: Final = re.compile(r"-?[0-9]+")

# Context frames. Bare-like frames parse words; the others are quotes or special regions.
_TOP, _DQ, _SQ, _CMDSUB, _BACKTICK, _PAREN = "top", "dq", "sq", "cmdsub", "backtick", "paren"
_ARITH, _ARITH_BRACKET, _TEST, _BRACE, _COMMENT = "arith", "arith[", "test", "brace", "comment"
_BARE_LIKE: Final = frozenset({_TOP, _CMDSUB, _BACKTICK, _PAREN})
_WORD_START: Final = frozenset(" \t\n;&|()<>")
_SEPARATORS: Final = frozenset(";&|\n(")
_REEVALUATING: Final = frozenset({"eval", "let"})
_BLOCK_OPEN: Final = frozenset({"if", "for", "macro", "call", "filter", "with", "block"})
_BLOCK_MIDDLE: Final = frozenset({"elif", "else"})


def _text(value: Any) -> str:
    return str(value)


def shell_word(value: Any) -> str:
    text = _text(value)
    return shlex.quote(text) if text else ""


def shell_dq(value: Any) -> str:
    return "".join(f"\\{ch}" if ch in _DQ_SPECIAL else ch for ch in _text(value))


def shell_sq(value: Any) -> str:
    return _text(value).replace("'", "'\\''")


def shell_int(value: Any) -> str:
    text = _text(value).strip()
    if _INTEGER.fullmatch(text) is None:
        raise ValueError("a value inside shell arithmetic must be an integer")
    return text


def shell_bq(value: Any) -> str:
    """Already quoted text, escaped for the backslash pass a backquote substitution makes."""
    return "".join(f"\\{ch}" if ch in _BQ_SPECIAL else ch for ch in _text(value))


SHELL_FILTERS: Final = {
    "shell_word": shell_word,
    "shell_dq": shell_dq,
    "shell_sq": shell_sq,
    "shell_int": shell_int,
    "shell_bq": shell_bq,
}


class _Shell:
    """Where in the shell grammar the literal text seen so far has left us."""

    def __init__(self) -> None:
        self.stack: list[str] = [_TOP]
        self.commands: list[str] = [""]  # per frame: text of its current simple command
        self.prev = ""  # the last character seen (a placeholder counts as a word character)
        self.unsure: str | None = None

    def feed(self, text: str) -> None:
        i = 0
        while i < len(text):
            i = self._step(text, i)
            self.prev = text[i - 1]

    def placeholder(self) -> None:
        self.prev = "x"
        self.commands[-1] += "x"

    def _step(self, text: str, i: int) -> int:
        top, ch, two = self.stack[-1], text[i], text[i : i + 2]
        if top == _SQ:
            if ch == "'":
                self._pop()
            return i + 1
        if top == _COMMENT:
            if ch == "\n":
                self._pop()
            return i + 1
        if ch == "\\":
            if text[i + 1 : i + 2] == "`" and _BACKTICK in self.stack:
                self.unsure = "a backquote nested in a backquote"
            self.commands[-1] += text[i : i + 2]
            return i + 2
        if top == _DQ:
            return self._in_double_quotes(text, i)
        return self._in_bare(text, i, top, ch, two)

    def _in_double_quotes(self, text: str, i: int) -> int:
        ch = text[i]
        if ch == '"':
            self._pop()
        elif ch == "`":
            self.unsure = "a backquote inside double quotes"
        elif ch == "$":
            return self._dollar(text, i)
        return i + 1

    def _dollar(self, text: str, i: int) -> int:
        if text.startswith("$((", i):
            self._push(_ARITH)
            return i + 3
        nxt = text[i + 1 : i + 2]
        frame = {"(": _CMDSUB, "[": _ARITH_BRACKET, "{": _BRACE}.get(nxt)
        if frame is not None:
            self._push(frame)
            return i + 2
        if nxt == "'" and self.stack[-1] != _DQ:
            self.unsure = "$'...' quoting"
            self._push(_SQ)
            return i + 2
        return i + 1

    def _in_bare(self, text: str, i: int, top: str, ch: str, two: str) -> int:
        at_word_start = self.prev in ("", *_WORD_START)
        if ch in _SEPARATORS and top in _BARE_LIKE:
            self.commands[-1] = ""
        else:
            self.commands[-1] += ch
        if ch == "'":
            self._push(_SQ)
        elif ch == '"':
            self._push(_DQ)
        elif ch == "`":
            if top == _BACKTICK:
                self._pop()
            else:
                self._push(_BACKTICK)
        elif ch == "$":
            return self._dollar(text, i)
        elif two in ("<(", ">("):
            self._push(_CMDSUB)
            return i + 2
        elif two == "((" and top in _BARE_LIKE:
            self._push(_ARITH)
            return i + 2
        elif two == "[[" and at_word_start and top in _BARE_LIKE:
            self._push(_TEST)
            return i + 2
        elif two == "]]" and top == _TEST:
            self._pop()
            return i + 2
        elif two == "<<" and text[i + 2 : i + 3] != "<":
            self.unsure = "a here-document"
            return i + 2
        elif ch == "#" and at_word_start and top in _BARE_LIKE:
            self._push(_COMMENT)
        elif ch == "(":
            self._push(_PAREN)
        elif ch == ")":
            return self._close_paren(text, i, top)
        elif (ch == "]" and top == _ARITH_BRACKET) or (ch == "}" and top == _BRACE):
            self._pop()
        return i + 1

    def _close_paren(self, text: str, i: int, top: str) -> int:
        if top in (_PAREN, _CMDSUB):
            self._pop()
            return i + 1
        if top == _ARITH and text.startswith("))", i):
            self._pop()
            return i + 2
        self.unsure = "an unbalanced ')'"
        return i + 1

    def _push(self, frame: str) -> None:
        self.stack.append(frame)
        self.commands.append("")

    def _pop(self) -> None:
        if len(self.stack) > 1:
            self.stack.pop()
            self.commands.pop()

    def filters(self) -> tuple[str, ...]:
        """The filters for a value placed here; ``ValueError`` when the context is unsure."""
        if self.unsure is not None:
            raise ValueError(f"a placeholder after {self.unsure}")
        top = self.stack[-1]
        refused = {
            _COMMENT: "inside a comment",
            _BRACE: "inside ${...}",
            _TEST: "inside [[ ... ]] (operands may be evaluated as arithmetic)",
        }
        if top in refused:
            raise ValueError(f"a placeholder {refused[top]}")
        words = self.commands[-1].split()
        if top in _BARE_LIKE and words and words[0] in _REEVALUATING:
            raise ValueError(f"a placeholder in an argument of {words[0]!r} (re-evaluated)")
        base = {_DQ: "shell_dq", _SQ: "shell_sq", _ARITH: "shell_int", _ARITH_BRACKET: "shell_int"}
        chosen = base.get(top, "shell_word")
        return (chosen, "shell_bq") if _BACKTICK in self.stack else (chosen,)


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


def _wrap(tag: str, filters: tuple[str, ...]) -> str:
    """``{{ expr }}`` → ``{{ (expr) | shell_x }}``, keeping whitespace control markers."""
    head = 3 if tag[2:3] in ("-", "+") else 2
    tail = 3 if tag[-3:-2] in ("-", "+") else 2
    piped = " | ".join(filters)
    return f"{tag[:head]} ({tag[head:-tail]}) | {piped} {tag[-tail:]}"


def _statement(tag: str) -> str:
    words = tag.strip("{%}-+ \t\n").split()
    return words[0] if words else ""


class _Blocks:
    """Jinja control blocks: text a block may or may not emit must leave the shell as it was."""

    def __init__(self) -> None:
        self.depth = 0
        self.stack_at_last_tag: list[str] = [_TOP]

    def tag(self, tag: str, shell: _Shell) -> None:
        keyword = _statement(tag)
        if keyword == "raw":
            raise ValueError("{% raw %} blocks are not supported in a cmd template")
        if self.depth > 0 and shell.stack != self.stack_at_last_tag:
            raise ValueError(f"the shell quoting differs across the Jinja block ending at {tag!r}")
        if keyword in _BLOCK_OPEN or (keyword == "set" and "=" not in tag):
            self.depth += 1
        elif keyword.startswith("end"):
            self.depth = max(0, self.depth - 1)
        elif keyword not in _BLOCK_MIDDLE and keyword != "set":
            raise ValueError(f"unsupported Jinja statement {keyword!r} in a cmd template")
        self.stack_at_last_tag = list(shell.stack)


def shell_quoted_template(source: str) -> str:
    """``source`` with every expression filtered for the shell context it appears in.

    Raises ``ValueError`` for a tag that is never closed or a placeholder whose shell context
    is not certain (the message says which placeholder and why).
    """
    out: list[str] = []
    shell, blocks = _Shell(), _Blocks()
    pos = 0
    while (tag := _next_tag(source, pos)) is not None:
        start, opener = tag
        literal = source[pos:start]
        shell.feed(literal)
        end = _tag_end(source, start, _CLOSERS[opener])
        raw = source[start:end]
        if opener == "{{":
            try:
                raw = _wrap(raw, shell.filters())
                shell.placeholder()
            except ValueError as exc:
                raise ValueError(f"cannot quote {raw} safely: {exc}") from None
        elif opener == "{%":
            blocks.tag(raw, shell)
        out += [literal, raw]
        pos = end
    out.append(source[pos:])
    return "".join(out)

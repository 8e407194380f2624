"""What a compiled alias regex guarantees about the text it matches (Squall additions).

Neither is st2 behaviour: ``guaranteed_literals`` ranks ambiguous matches (the most literal
text wins) and ``fixed_first_word`` lets the matcher index formats by the command's first word.
Both read the parsed pattern (``re._parser``), so regex-transparent formats are handled exactly.
"""

from __future__ import annotations

import importlib
import re
from typing import Any

__all__ = ["first_word", "fixed_first_word", "guaranteed_literals"]

_CONSTANTS: Any = importlib.import_module("re._constants")
_SPACE_CLASS = (_CONSTANTS.IN, [(_CONSTANTS.CATEGORY, _CONSTANTS.CATEGORY_SPACE)])


def guaranteed_literals(tokens: Any) -> int:
    """Literal non-space characters every match of the parsed pattern contains."""
    total = 0
    for op, arg in tokens:
        name = op.name
        if name == "LITERAL" and not chr(arg).isspace():
            total += 1
        elif name == "SUBPATTERN":
            total += guaranteed_literals(arg[3])
        elif name == "BRANCH":
            total += min(guaranteed_literals(branch) for branch in arg[1])
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") and arg[0] > 0:
            total += min(arg[0], 100) * guaranteed_literals(arg[2])
    return total


def fixed_first_word(tokens: Any) -> str | None:
    """The literal word a command must start with, when the regex fixes one (else None).

    Only for ``^\\s*word`` followed by whitespace or the end, with no top-level alternation and
    no inline flags (case-insensitivity or multi-line anchors would break the word lookup).
    """
    if tokens.state.flags & (re.IGNORECASE | re.MULTILINE | re.VERBOSE):
        return None
    items = list(tokens)
    if any(op.name == "BRANCH" for op, _ in items) or len(items) < 3:
        return None
    if items[0][0].name != "AT" or not _is_space_repeat(*items[1], minimum=0):
        return None
    word = ""
    rest = items[2:]
    for position, (op, arg) in enumerate(rest):
        if op.name == "LITERAL" and not chr(arg).isspace():
            word += chr(arg)
            continue
        return word if word and _starts_with_break(rest[position:]) else None
    return None  # the regex ends inside the word: a longer first word would match too


def _is_space_repeat(op: Any, arg: Any, *, minimum: int) -> bool:
    """``\\s*`` (minimum 0) or ``\\s+`` (minimum 1)."""
    if op.name != "MAX_REPEAT" or arg[0] < minimum:
        return False
    return list(arg[2]) == [_SPACE_CLASS]


def _starts_with_break(tokens: list[Any]) -> bool:
    """Whether every text matching ``tokens`` starts with whitespace or is at the end."""
    if not tokens:
        return False  # unknown continuation: be conservative
    (op, arg), rest = tokens[0], tokens[1:]
    name = op.name
    if name == "LITERAL":
        return chr(arg).isspace()
    if name == "AT":
        return arg.name in ("AT_END", "AT_END_STRING")
    if name == "IN":
        return (op, arg) == _SPACE_CLASS
    if name == "SUBPATTERN":
        return _starts_with_break([*arg[3], *rest])
    if name == "BRANCH":
        return all(_starts_with_break([*branch, *rest]) for branch in arg[1])
    if name in ("MAX_REPEAT", "MIN_REPEAT"):
        first = _starts_with_break([*arg[2], *rest])
        return first if arg[0] >= 1 else first and _starts_with_break(rest)
    return False


def first_word(stream: str) -> str:
    """The first whitespace-separated word of a (padded) stream, ``""`` if blank."""
    words = stream.split(None, 1)
    return words[0] if words else ""

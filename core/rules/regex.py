"""Rule regular expressions that cannot freeze the process (security.md §4.6)."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

__all__ = ["REGEX_FALLBACK_BUDGET", "RegexRefusedError", "regex_matcher"]


class RegexRefusedError(ValueError):
    """A backtracking-only pattern that could take exponential or unbounded time (ReDoS)."""


def _require_text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"regex operators need a string value, not {type(value).__name__}")
    return value


# --- regular expressions (security.md §4.6) ---------------------------------------------------
#
# Payload values come from the outside world and st2 runs rule regexes with stdlib ``re`` and no
# timeout, so one crafted value can freeze the whole process. Patterns are compiled with RE2
# (linear time). Only patterns RE2 rejects (backreferences, lookarounds) fall back to ``re``,
# and then with a deterministic bound: a repeat may not contain another repeat, an alternation
# or a backreference (the exponential shapes), and the input may be at most
# ``REGEX_FALLBACK_BUDGET ** (1 / (d + 1))`` characters, where d counts the pattern's repeats
# and backreferences (each can multiply backtracking by the input length; searching adds one).
# Known RE2 difference: ``$`` matches only at the very end, not before a final newline.

REGEX_FALLBACK_BUDGET: Final = 10_000_000
_SRE: Any = importlib.import_module("re._parser")
_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})
_EXPONENTIAL_INSIDE_REPEAT = _REPEATS | {"BRANCH", "GROUPREF", "GROUPREF_EXISTS"}


def _opcodes(node: Any) -> list[tuple[str, Any]]:
    """Every (opcode name, argument) in a parsed pattern, depth first."""
    found: list[tuple[str, Any]] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, _SRE.SubPattern):
            stack.extend(item.data)
        elif isinstance(item, tuple) and len(item) == 2 and hasattr(item[0], "name"):
            found.append((item[0].name, item[1]))
            stack.append(item[1])
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return found


def _fallback_max_length(pattern: str, flags: int) -> int:
    """Longest input the ``re`` fallback may see; raises ``RegexRefusedError`` when none."""
    degree = 0
    for name, arg in _opcodes(_SRE.parse(pattern, flags)):
        if name in _REPEATS and arg[1] > 1:
            degree += 1
            if any(inner in _EXPONENTIAL_INSIDE_REPEAT for inner, _ in _opcodes(arg[2])):
                raise RegexRefusedError(
                    f"regex {pattern!r} is not supported by RE2 and nests a repeat, alternation "
                    "or backreference inside a repeat (catastrophic backtracking)"
                )
        elif name.startswith("GROUPREF"):
            degree += 1
    return int(REGEX_FALLBACK_BUDGET ** (1 / (degree + 1)))


def _re2_options(re2: Any, ignorecase: bool, dotall: bool) -> Any:
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not ignorecase
    options.dot_nl = dotall
    return options


@lru_cache(maxsize=512)
def regex_matcher(pattern: str, *, ignorecase: bool, anchored: bool) -> Callable[[str], bool]:
    """A bounded-time predicate: ``re.search`` (or ``re.match`` + DOTALL when ``anchored``).

    Raises ``re.error`` for an invalid pattern and ``RegexRefusedError`` for a dangerous one.
    """
    if not isinstance(pattern, str):
        raise TypeError(f"regex pattern must be a string, not {type(pattern).__name__}")
    flags = (re.IGNORECASE if ignorecase else 0) | (re.DOTALL if anchored else 0)
    # RE2 (a C++ library, ~1.4 MB resident) loads with the first rule regex, not at start-up;
    # compiled matchers are cached, so this import runs once per pattern at most.
    import re2  # type: ignore[import-untyped]

    try:
        fast = re2.compile(pattern, _re2_options(re2, ignorecase, anchored))
    except re2.error:
        return _fallback_matcher(pattern, flags, anchored)
    run = fast.match if anchored else fast.search
    return lambda text: run(_require_text(text)) is not None


def _fallback_matcher(pattern: str, flags: int, anchored: bool) -> Callable[[str], bool]:
    compiled = re.compile(pattern, flags)  # re.error here means the pattern is invalid
    max_length = _fallback_max_length(pattern, flags)
    run = compiled.match if anchored else compiled.search

    def matches(text: str) -> bool:
        if len(_require_text(text)) > max_length:
            raise RegexRefusedError(
                f"regex {pattern!r} needs backtracking; input of {len(text)} characters is over "
                f"its limit of {max_length}"
            )
        return run(text) is not None

    return matches

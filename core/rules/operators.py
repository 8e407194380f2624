"""st2's rule criteria operators (st2-format §4.3) as a registry of pure functions.

Every operator is ``op(value, pattern) -> bool`` with st2's exact semantics: Python equality and
ordering with **no type coercion**, ``pattern=None`` is False for all but ``nequals``/``exists``/
``nexists``, bytes are decoded first. Type errors (``lessthan(1, "a")``) propagate: the criteria
evaluator turns any exception into "criterion not matched", as st2 does. ``search`` needs child
criteria, so it lives in ``core.rules.criteria``; its name is still known here.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import operator
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

import re2  # type: ignore[import-untyped]

__all__ = [
    "OPERATORS",
    "OPERATOR_NAMES",
    "REGEX_FALLBACK_BUDGET",
    "SEARCH",
    "TIME_OPERATORS",
    "ClockRequiredError",
    "Operator",
    "RegexRefusedError",
    "UnknownOperatorError",
    "canonical_name",
    "get_operator",
    "regex_matcher",
]

Operator = Callable[[Any, Any], bool]
TimeOperator = Callable[[Any, Any, datetime], bool]

SEARCH: Final = "search"


class UnknownOperatorError(LookupError):
    """A rule names an operator st2 does not have."""


class ClockRequiredError(RuntimeError):
    """A timediff operator was used without ``now``: the pure core never reads the clock."""


class RegexRefusedError(ValueError):
    """A backtracking-only pattern that could take exponential or unbounded time (ReDoS)."""


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


def _re2_options(ignorecase: bool, dotall: bool) -> Any:
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
    try:
        fast = re2.compile(pattern, _re2_options(ignorecase, anchored))
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


def _require_text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"regex operators need a string value, not {type(value).__name__}")
    return value


# --- the operators ----------------------------------------------------------------------------


def _unless_none(fn: Operator) -> Operator:
    """st2: a missing (None) pattern never matches."""

    def guarded(value: Any, pattern: Any) -> bool:
        return False if pattern is None else fn(value, pattern)

    return guarded


def _regex(*, ignorecase: bool = False, anchored: bool = False) -> Operator:
    def run(value: Any, pattern: Any) -> bool:
        return regex_matcher(pattern, ignorecase=ignorecase, anchored=anchored)(value)

    return _unless_none(run)


def _timediff(compare: Callable[[float, float], bool]) -> TimeOperator:
    def run(value: Any, pattern: Any, now: datetime) -> bool:
        if pattern is None:
            return False
        target = datetime.fromisoformat(value)
        # st2 parses naive timestamps as UTC.
        if target.tzinfo is None:
            target = target.replace(tzinfo=UTC)
        return compare((now - target).total_seconds(), float(pattern))

    return run


def _nequals(value: Any, pattern: Any) -> bool:
    return bool(value != pattern)


_BASE: dict[str, Operator] = {
    "equals": _unless_none(lambda v, p: bool(v == p)),
    "nequals": _nequals,
    "iequals": _unless_none(lambda v, p: bool(v.lower() == p.lower())),
    "contains": _unless_none(lambda v, p: p in v),
    "ncontains": _unless_none(lambda v, p: p not in v),
    "icontains": _unless_none(lambda v, p: p.lower() in v.lower()),
    "incontains": _unless_none(lambda v, p: p.lower() not in v.lower()),
    "startswith": _unless_none(lambda v, p: bool(v.startswith(p))),
    "istartswith": _unless_none(lambda v, p: bool(v.lower().startswith(p.lower()))),
    "endswith": _unless_none(lambda v, p: bool(v.endswith(p))),
    "iendswith": _unless_none(lambda v, p: bool(v.lower().endswith(p.lower()))),
    "lessthan": _unless_none(lambda v, p: bool(v < p)),
    "greaterthan": _unless_none(lambda v, p: bool(v > p)),
    # fnmatchcase: fnmatch.fnmatch is case-sensitive on Linux, where st2 runs.
    "matchwildcard": _unless_none(fnmatch.fnmatchcase),
    "regex": _regex(),
    "iregex": _regex(ignorecase=True),
    "matchregex": _regex(anchored=True),
    "exists": lambda v, _p: v is not None,
    "nexists": lambda v, _p: v is None,
    "inside": _unless_none(lambda v, p: v in p),
    "ninside": _unless_none(lambda v, p: v not in p),
}

_ALIASES: Final[Mapping[str, str]] = {
    "eq": "equals",
    "neq": "nequals",
    "ieq": "iequals",
    "lt": "lessthan",
    "gt": "greaterthan",
    "td_lt": "timediff_lt",
    "td_gt": "timediff_gt",
    "in": "inside",
    "nin": "ninside",
}

TIME_OPERATORS: Final[Mapping[str, TimeOperator]] = {
    "timediff_lt": _timediff(operator.lt),
    "timediff_gt": _timediff(operator.gt),
}

OPERATORS: Final[Mapping[str, Operator]] = {
    **_BASE,
    **{alias: _BASE[target] for alias, target in _ALIASES.items() if target in _BASE},
}

OPERATOR_NAMES: Final = frozenset({*OPERATORS, *TIME_OPERATORS, *_ALIASES, SEARCH})


def _decoded(value: Any) -> Any:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _with_decoding(fn: Operator) -> Operator:
    def run(value: Any, pattern: Any) -> bool:
        return fn(_decoded(value), _decoded(pattern))

    return run


def canonical_name(name: str) -> str:
    """Lower-cased, alias-resolved name; raises ``UnknownOperatorError`` with close matches."""
    lowered = name.lower()
    if lowered not in OPERATOR_NAMES:
        close = difflib.get_close_matches(lowered, sorted(OPERATOR_NAMES), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownOperatorError(f"unknown criteria operator {name!r}{hint}")
    return _ALIASES.get(lowered, lowered)


def get_operator(name: str, *, now: datetime | None = None) -> Operator:
    """The operator called ``name`` (any case, aliases allowed), bytes-decoding its arguments.

    ``now`` (aware, UTC) is bound into the timediff operators; without it they raise
    ``ClockRequiredError``. ``search`` is not an ``Operator``: ask ``core.rules.criteria``.
    """
    canonical = canonical_name(name)
    if canonical == SEARCH:
        raise UnknownOperatorError("'search' needs child criteria; use evaluate_criteria")
    if canonical in TIME_OPERATORS:
        if now is None:
            raise ClockRequiredError(f"operator {name!r} needs the current time (now=...)")
        time_op, at = TIME_OPERATORS[canonical], now
        return _with_decoding(lambda value, pattern: time_op(value, pattern, at))
    return _with_decoding(OPERATORS[canonical])

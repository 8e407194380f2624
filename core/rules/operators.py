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
import operator
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from core.rules.regex import REGEX_FALLBACK_BUDGET, RegexRefusedError, regex_matcher

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

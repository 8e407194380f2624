"""Which rules of one trigger can match a payload, without evaluating them all (issue 18 §3).

Every rule is filed under ONE of its criteria, a necessary condition: the rule can only match
if that criterion does. At an event each filed criterion's structure is asked once for the
rules whose condition holds, and only those candidates are evaluated with their full criteria
(``core.rules.criteria``), so results equal evaluating every rule; the property test
``tests/unit/test_rule_index_property.py`` checks that on random rules and payloads.

Structures, by operator (a literal pattern on a ``trigger.…`` key; templates never):

- ``equals``, ``iequals``, ``inside`` of a list of scalars: a hash of pattern value → rules,
  looked up with the payload's value (lower-cased for ``iequals``). Python's ``==`` and ``hash``
  agree on scalars (``1 == 1.0 == True`` share a hash), so a lookup finds exactly the rules
  whose operator returns True. One lookup per (key, case) however many rules.
- ``startswith``/``istartswith``, and ``regex``/``matchregex`` whose pattern begins with a
  literal anchored at the start: per prefix length, a hash of prefix → rules, looked up with
  ``value[:length]`` — one lookup per distinct prefix length.
- ``contains``/``icontains`` on a text value: per pattern length, a hash of pattern → rules,
  looked up with every substring of that length (lengths times characters lookups, capped: past
  ``SCAN_BUDGET`` the whole bucket becomes candidates and full evaluation decides); on a list
  or mapping value, one lookup per element or key (``in`` is membership there).
- ``exists``: per key, the rules; one lookup of the key.
- anything else (``regex`` without a literal prefix, ``lessthan``, ``search``, …): the rule is
  always a candidate. A rule with several indexable criteria is filed under the one whose bucket
  holds the fewest rules in this rule set (measured when the index is built), exists last.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.rules.keys import KeyPathError, lookup, parse_key
from core.rules.operators import UnknownOperatorError, canonical_name
from core.templates.render import is_template

__all__ = ["SCAN_BUDGET", "CriteriaIndex"]

# Substring lookups one ``contains`` bucket may spend on one value before giving up on it.
SCAN_BUDGET = 20_000
_SCALARS = (str, int, float, bool)
_PARSER: Any = re._parser  # type: ignore[attr-defined]
_AT_START = {"AT_BEGINNING", "AT_BEGINNING_STRING"}

# Bucket kinds, and how much worse than an exact bucket of the same size each one is.
EXACT, PREFIX, CONTAINS, EXISTS = "exact", "prefix", "contains", "exists"
_WEIGHT = {EXACT: 1.0, PREFIX: 1.5, CONTAINS: 2.0, EXISTS: 1e9}


@dataclass(frozen=True)
class _Filing:
    """Where one criterion would file its rule: a structure (kind, key, case-folded) and the
    entries in it (pattern values; several for ``inside``)."""

    kind: str
    key: str
    fold: bool
    entries: tuple[Any, ...]


def _text(pattern: Any) -> bool:
    return isinstance(pattern, str)


def _hashable_scalar(value: Any) -> bool:
    return isinstance(value, _SCALARS) and not (isinstance(value, float) and math.isnan(value))


def _scalar_list(pattern: Any) -> bool:
    return (
        isinstance(pattern, list | tuple)
        and bool(pattern)
        and all(_hashable_scalar(p) or p is None for p in pattern)
    )


def regex_literal_prefix(pattern: str, *, anchored: bool) -> str | None:
    """The literal text every match must start with, or None if there is none to rely on."""
    try:
        parsed = _PARSER.parse(pattern, 0)
    except (re.error, RecursionError):
        return None
    if parsed.state.flags & (re.IGNORECASE | re.MULTILINE | re.VERBOSE):
        return None
    items = list(parsed.data)
    if not anchored:
        if not items or items[0][0].name != "AT" or items[0][1].name not in _AT_START:
            return None
        items = items[1:]
    prefix = []
    for op, arg in items:
        if op.name != "LITERAL":
            break
        prefix.append(chr(arg))
    return "".join(prefix) or None


def _filing(key: Any, spec: Any) -> _Filing | None:
    """How one criterion can file its rule, or None when it cannot be indexed."""
    if not isinstance(key, str) or not isinstance(spec, Mapping):
        return None
    try:
        steps = parse_key(key)
        name = canonical_name(str(spec.get("type")))
    except (KeyPathError, UnknownOperatorError):
        return None
    pattern = spec.get("pattern")
    if steps[0] != "trigger" or (isinstance(pattern, str) and is_template(pattern)):
        return None
    return _by_operator(name, key, pattern)


def _by_operator(name: str, key: str, pattern: Any) -> _Filing | None:
    if name == "equals" and _hashable_scalar(pattern):
        return _Filing(EXACT, key, False, (pattern,))
    if name == "iequals" and _text(pattern):
        return _Filing(EXACT, key, True, (pattern.lower(),))
    if name == "inside" and _scalar_list(pattern):
        return _Filing(EXACT, key, False, tuple(pattern))
    if name in ("startswith", "istartswith") and _text(pattern):
        fold = name == "istartswith"
        return _Filing(PREFIX, key, fold, (pattern.lower() if fold else pattern,))
    if name in ("regex", "matchregex") and _text(pattern):
        prefix = regex_literal_prefix(pattern, anchored=name == "matchregex")
        return None if prefix is None else _Filing(PREFIX, key, False, (prefix,))
    if name in ("contains", "icontains") and pattern is not None:
        if name == "icontains":
            return _Filing(CONTAINS, key, True, (pattern.lower(),)) if _text(pattern) else None
        return _Filing(CONTAINS, key, False, (pattern,)) if _hashable_scalar(pattern) else None
    if name == "exists":
        return _Filing(EXISTS, key, False, ())
    return None


@dataclass
class _Bucket:
    """One structure: (kind, key, fold) → its entries."""

    kind: str
    key: str
    fold: bool
    exact: dict[Any, list[int]] = field(default_factory=lambda: defaultdict(list))
    by_length: dict[int, dict[str, list[int]]] = field(default_factory=dict)
    everyone: list[int] = field(default_factory=list)

    def add(self, position: int, entries: Sequence[Any]) -> None:
        self.everyone.append(position)
        for entry in entries:
            self.exact[entry].append(position)
            if self.kind in (PREFIX, CONTAINS) and isinstance(entry, str):
                self.by_length.setdefault(len(entry), defaultdict(list))[entry].append(position)

    def hits(self, root: Mapping[str, Any], out: set[int]) -> None:
        value = lookup(root, self.key)
        if isinstance(value, bytes):  # operators decode bytes first
            value = value.decode("utf-8", errors="replace")
        if self.kind == EXISTS:
            if value is not None:
                out.update(self.everyone)
            return
        if self.fold:
            if not isinstance(value, str):
                return  # the i* operators call .lower() on the value: no match otherwise
            value = value.lower()
        _HITS[self.kind](self, value, out)


def _exact_hits(bucket: _Bucket, value: Any, out: set[int]) -> None:
    try:
        out.update(bucket.exact.get(value, ()))
    except TypeError:  # unhashable (a list or mapping): never == a scalar pattern
        return


def _prefix_hits(bucket: _Bucket, value: Any, out: set[int]) -> None:
    if not isinstance(value, str):
        return
    for length, table in bucket.by_length.items():
        if length <= len(value):
            out.update(table.get(value[:length], ()))


def _contains_hits(bucket: _Bucket, value: Any, out: set[int]) -> None:
    if isinstance(value, str):
        if len(value) * len(bucket.by_length) > SCAN_BUDGET:
            out.update(bucket.everyone)  # too long to scan: let full evaluation decide
            return
        for length, table in bucket.by_length.items():
            for start in range(len(value) - length + 1):
                out.update(table.get(value[start : start + length], ()))
    elif isinstance(value, Mapping | list | tuple):
        for element in value:  # ``p in v`` is membership (a mapping's keys)
            _exact_hits(bucket, element, out)


_HITS: dict[str, Callable[[_Bucket, Any, set[int]], None]] = {
    EXACT: _exact_hits,
    PREFIX: _prefix_hits,
    CONTAINS: _contains_hits,
}


class CriteriaIndex:
    """The candidate structure for a sequence of rules' criteria (positions in that order)."""

    def __init__(self, criteria: Iterable[Mapping[str, Any]]) -> None:
        options = [self._options(c) for c in criteria]
        sizes: dict[tuple[str, str, bool, Any], int] = defaultdict(int)
        for filings in options:
            for filing in filings:
                for entry in filing.entries or (None,):
                    sizes[_slot(filing, entry)] += 1
        self._buckets: dict[tuple[str, str, bool], _Bucket] = {}
        self._always: list[int] = []
        for position, filings in enumerate(options):
            if not filings:
                self._always.append(position)
                continue
            best = min(filings, key=lambda f: _cost(f, sizes))
            where = (best.kind, best.key, best.fold)
            bucket = self._buckets.setdefault(where, _Bucket(*where))
            bucket.add(position, best.entries)

    @staticmethod
    def _options(criteria: Mapping[str, Any]) -> list[_Filing]:
        if not isinstance(criteria, Mapping):
            return []
        return [f for key, spec in criteria.items() if (f := _filing(key, spec)) is not None]

    @property
    def unindexed(self) -> int:
        """How many rules are candidates for every payload."""
        return len(self._always)

    def candidates(self, payload: Mapping[str, Any]) -> list[int]:
        """Positions of the rules that may match ``payload``, in rule order."""
        found: set[int] = set(self._always)
        root = {"trigger": payload}
        for bucket in self._buckets.values():
            bucket.hits(root, found)
        return sorted(found)


def _slot(filing: _Filing, entry: Any) -> tuple[str, str, bool, Any]:
    try:
        hash(entry)
    except TypeError:
        entry = repr(entry)
    return filing.kind, filing.key, filing.fold, entry


def _cost(filing: _Filing, sizes: Mapping[tuple[str, str, bool, Any], int]) -> float:
    count = sum(sizes[_slot(filing, entry)] for entry in filing.entries or (None,))
    return count * _WEIGHT[filing.kind]

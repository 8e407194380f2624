"""Evaluate a rule's criteria against a trigger payload (st2-format §4.2, §4.3).

Pure: no I/O and no clock (timediff operators need ``now`` from the caller). Never raises for a
bad rule: every criterion yields a ``CriterionResult`` saying whether it matched and why, and a
broken criterion (unknown operator, bad regex, template error, bad key) carries an ``error``.
All criteria must match (AND); like st2, evaluation stops at the first one that does not.
"""

from __future__ import annotations

import json
import re
import reprlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.params.context import KV_NAME
from core.params.context import kv_context as kv_lookup
from core.rules.keys import KeyPathError, lookup
from core.rules.operators import (
    SEARCH,
    ClockRequiredError,
    RegexRefusedError,
    UnknownOperatorError,
    canonical_name,
    get_operator,
)
from core.templates.render import is_template, render_native

__all__ = [
    "CONDITIONS",
    "CriteriaResult",
    "CriterionResult",
    "evaluate_criteria",
    "evaluate_criterion",
    "render_pattern",
]

_SHOW = reprlib.Repr()
_SHOW.maxstring = _SHOW.maxother = 120

# Errors in the rule itself, as opposed to a payload value of the wrong type.
_RULE_ERRORS = (re.error, RegexRefusedError, ClockRequiredError)


@dataclass(frozen=True, slots=True)
class CriterionResult:
    """One criterion's outcome: the rendered pattern, the payload value and why it (not) matched.

    ``error`` is set only when the rule itself is broken; it starts with the criterion's key.
    """

    key: str
    operator: str
    pattern: Any
    value: Any
    matched: bool
    # Why, when it is not the usual "KEY: OPERATOR PATTERN matched|but value was VALUE".
    note: str | None = None
    error: str | None = None

    @property
    def reason(self) -> str:
        """Why it (not) matched. Written when asked (a rule tester, a failed match), not at
        every evaluation: the matching path of the rules engine never reads it."""
        if self.note is not None:
            return self.note
        verdict = "matched" if self.matched else "but value was"
        return f"{self.key}: {self.operator} {_show(self.pattern)} {verdict} {_show(self.value)}"


@dataclass(frozen=True, slots=True)
class CriteriaResult:
    """A match object: ``details`` has one entry per criterion evaluated (up to the failing one);
    ``failed_key``/``reason``/``error`` describe the first criterion that did not match."""

    matched: bool
    failed_key: str | None = None
    reason: str | None = None
    error: str | None = None
    details: tuple[CriterionResult, ...] = ()


def _show(value: Any) -> str:
    return _SHOW.repr(value)


def render_pattern(pattern: Any, variables: Mapping[str, Any]) -> Any:
    """st2 renders string patterns; a whole ``{{ expr }}`` keeps its type (via ``to_complex``
    and JSON decoding, so the result is plain JSON data). Other values are used as they are."""
    if not isinstance(pattern, str) or not is_template(pattern):
        return pattern
    rendered = render_native(pattern, variables)
    if isinstance(rendered, str):
        return rendered
    return json.loads(json.dumps(rendered, default=str))


def _broken(key: str, name: str, pattern: Any, error: str, value: Any = None) -> CriterionResult:
    message = f"{key}: {error}"
    return CriterionResult(key, name, pattern, value, False, message, message)


def evaluate_criterion(
    key: str,
    spec: Any,
    variables: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> CriterionResult:
    """One criterion ``key: {type, pattern, condition?}``; ``variables`` is both the lookup root
    for ``key`` and the template context (``trigger``/``item`` plus the caller's context)."""
    if not isinstance(key, str):
        return _broken(str(key), "?", None, "criteria keys must be strings")
    if not isinstance(spec, Mapping) or not isinstance(spec.get("type"), str):
        return _broken(key, "?", None, "criterion needs a 'type' naming an operator")
    name, raw_pattern = spec["type"], spec.get("pattern")
    try:
        canonical = canonical_name(name)
        pattern = render_pattern(raw_pattern, variables)
        value = lookup(variables, key)
    except (UnknownOperatorError, KeyPathError) as exc:
        return _broken(key, name, raw_pattern, str(exc))
    except Exception as exc:  # the sandbox's template errors, whatever their class
        return _broken(key, name, raw_pattern, f"pattern failed to render: {exc}")
    if canonical == SEARCH:
        return _search(key, name, pattern, value, spec.get("condition"), variables, now)
    try:
        matched = get_operator(canonical, now=now)(value, pattern)
    except _RULE_ERRORS as exc:
        return _broken(key, name, pattern, f"{name}: {exc}", value)
    except Exception as exc:  # st2: a value of the wrong type simply does not match
        reason = f"{key}: {name} {_show(pattern)} raised {type(exc).__name__}: {exc}"
        return CriterionResult(key, name, pattern, value, False, reason)
    return CriterionResult(key, name, pattern, value, matched)


# --- search: child criteria over the elements of a list ---------------------------------------

_Check = Callable[[Any], bool]  # does one list element satisfy one child criterion?
_Condition = Callable[[list[Any], list[_Check]], bool]

# any/all: some/every element matches all children; *2any: ... matches some child.
CONDITIONS: Mapping[str, _Condition] = {
    "any": lambda items, checks: any(all(c(i) for c in checks) for i in items),
    "all": lambda items, checks: all(all(c(i) for c in checks) for i in items),
    "any2any": lambda items, checks: any(any(c(i) for c in checks) for i in items),
    "all2any": lambda items, checks: all(any(c(i) for c in checks) for i in items),
}


def _child_checks(
    children: Iterable[tuple[str, Any]],
    variables: Mapping[str, Any],
    now: datetime | None,
    errors: list[str],
) -> list[_Check]:
    def check(key: str, spec: Any) -> _Check:
        def run(item: Any) -> bool:
            # st2 looks child keys up under "item"; templates see the element as "item" too.
            result = evaluate_criterion(key, spec, {**variables, "item": item}, now=now)
            if result.error is not None:
                errors.append(result.error)
            return result.matched

        return run

    return [check(key, spec) for key, spec in children]


def _search(
    key: str,
    name: str,
    pattern: Any,
    value: Any,
    condition: Any,
    variables: Mapping[str, Any],
    now: datetime | None,
) -> CriterionResult:
    if not isinstance(condition, str) or condition not in CONDITIONS:
        return _broken(key, name, pattern, f"search condition must be one of {sorted(CONDITIONS)}")
    if not isinstance(pattern, Mapping) or not pattern:
        return _broken(key, name, pattern, "search pattern must map 'item.*' keys to criteria")
    items = [value] if isinstance(value, Mapping) else value
    if not isinstance(items, list | tuple):
        reason = f"{key}: {name} needs a list but value was {_show(value)}"
        return CriterionResult(key, name, pattern, value, False, reason)
    errors: list[str] = []
    checks = _child_checks(pattern.items(), variables, now, errors)
    matched = CONDITIONS[condition](list(items), checks)
    verdict = "matched" if matched else "found no match in"
    reason = f"{key}: {name} ({condition}) {verdict} {len(items)} item(s)"
    error = None if matched or not errors else f"{key}: {errors[0]}"
    return CriterionResult(key, name, pattern, value, matched, reason, error)


def criteria_read_kv(criteria: Mapping[str, Any]) -> bool:
    """Whether a pattern names ``st2kv`` (so the datastore must be loaded to evaluate it)."""
    return "st2kv" in json.dumps(criteria, default=str)


def kv_criteria_context(kv: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``context`` that lets patterns read ``st2kv.system.x`` / ``st2kv.user.x``, from the
    prefetched scopes of ``core.kv.lookup.kv_context``."""
    return {KV_NAME: kv_lookup(kv)}


def evaluate_criteria(
    criteria: Mapping[str, Mapping[str, Any]],
    payload: Mapping[str, Any],
    *,
    context: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> CriteriaResult:
    """Match ``payload`` (the trigger instance payload) against a rule's ``criteria``.

    ``context`` adds template variables and lookup roots (e.g. ``st2kv``); ``trigger`` is
    always the payload. ``now`` (timezone-aware) is needed only by the timediff operators.
    """
    if not isinstance(criteria, Mapping):
        reason = "criteria must be a mapping of payload keys to {type, pattern}"
        return CriteriaResult(matched=False, reason=reason, error=reason)
    if not criteria:
        return CriteriaResult(matched=True)
    if not payload:
        reason = "the rule has criteria but the trigger instance has no payload"
        return CriteriaResult(matched=False, reason=reason)
    variables = {**(context or {}), "trigger": payload}
    details: list[CriterionResult] = []
    for key, spec in criteria.items():
        result = evaluate_criterion(key, spec, variables, now=now)
        details.append(result)
        if not result.matched:
            return CriteriaResult(False, key, result.reason, result.error, tuple(details))
    return CriteriaResult(matched=True, details=tuple(details))

"""The criteria index finds exactly the rules linear evaluation matches (core.rules.selective).

Hypothesis builds random rule sets (every operator, literal and template patterns, keys that
exist, are missing or hold other types) and random payloads drawn from the same small
alphabets, so matches, near misses and type mismatches all happen; ``matched_rules`` (index,
then full evaluation of the candidates only) must equal ``match_rules`` (every rule).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core.models import Rule
from core.models.trigger import RuleAction, RuleTrigger
from core.rules.index import BACKSTOP, WEBHOOK_TRIGGER, RuleIndex
from core.rules.matcher import match_rules, matched_rules
from core.rules.selective import CriteriaIndex, regex_literal_prefix

TRIGGER = RuleTrigger(WEBHOOK_TRIGGER, {"url": "prop"})
NOW = datetime(2026, 1, 1, tzinfo=UTC)
KEYS = ["trigger.a", "trigger.b", "trigger.n.c", "trigger.items[0]", "trigger.*", "trigger.a#2"]
words = st.sampled_from(["", "a", "ab", "abc", "AB", "Abc", "b", "ba", "xab", "İ", "ß"])
scalars = st.one_of(words, st.integers(-2, 2), st.booleans(), st.just(1.0), st.none())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(words, inner, max_size=3)),
    max_leaves=6,
)
OPERATORS = [
    "equals", "eq", "nequals", "iequals", "contains", "icontains", "ncontains", "startswith",
    "istartswith", "endswith", "regex", "matchregex", "iregex", "exists", "nexists", "inside",
    "in", "ninside", "lessthan", "greaterthan", "matchwildcard", "Equals", "bogus",
]  # fmt: skip
regexes = st.sampled_from(["^a", "^ab.*", "^a|^b", "^(ab)", "ab", "^a+b", r"\Aab", "(?i)^ab",
                           "(?m)^ab", "^a?b", "^[ab]", "^abc$", "[", "a.c"])  # fmt: skip
patterns = st.one_of(
    values, regexes, st.lists(scalars, min_size=1, max_size=4), st.just("{{ trigger.a }}")
)
criterion = st.tuples(st.sampled_from(KEYS), st.sampled_from(OPERATORS), patterns)


@st.composite
def rule_sets(draw: st.DrawFn) -> list[Rule]:
    rules = []
    for n in range(draw(st.integers(1, 12))):
        criteria: dict[str, Any] = {}
        for key, operator, pattern in draw(st.lists(criterion, max_size=3)):
            criteria[key] = {"type": operator, "pattern": pattern}
        kind = BACKSTOP if draw(st.integers(0, 5)) == 0 else "standard"
        rules.append(
            Rule("p", f"r{n}", TRIGGER, RuleAction("core.noop"), criteria, enabled=True, type=kind)
        )
    return rules


payloads = st.fixed_dictionaries(
    {},
    optional={
        "a": values,
        "b": values,
        "n": st.fixed_dictionaries({}, optional={"c": values}),
        "items": st.lists(values, max_size=2),
    },
)


@settings(max_examples=400, deadline=None)
@given(rule_sets(), st.lists(payloads, min_size=1, max_size=4))
def test_indexed_evaluation_matches_linear_evaluation(rules: list[Rule], bodies: list[Any]) -> None:
    index = RuleIndex(rules)
    for payload in bodies:
        linear = [m.rule for m in match_rules(index, WEBHOOK_TRIGGER, TRIGGER.parameters,
                                              payload, now=NOW) if m.matched]  # fmt: skip
        indexed = matched_rules(index, WEBHOOK_TRIGGER, TRIGGER.parameters, payload, now=NOW)
        assert indexed == linear


def test_only_candidates_of_selective_criteria_are_evaluated() -> None:
    criteria = [{"trigger.svc": {"type": "equals", "pattern": f"s{i}"}} for i in range(1000)]
    criteria.append({"trigger.msg": {"type": "contains", "pattern": "disk"}})
    criteria.append({"trigger.msg": {"type": "regex", "pattern": "^alert-7: "}})
    criteria.append({"trigger.msg": {"type": "lessthan", "pattern": 3}})  # not indexable
    # env=prod is shared by every rule here: the rarer contains pattern files each one.
    criteria += [
        {"trigger.env": {"type": "equals", "pattern": "prod"},
         "trigger.msg": {"type": "contains", "pattern": f"host-{i}"}} for i in range(50)
    ]  # fmt: skip
    index = CriteriaIndex(criteria)
    assert index.unindexed == 1
    payload = {"svc": "s7", "msg": "alert-7: disk full on host-12", "env": "prod"}
    assert index.candidates(payload) == [7, 1000, 1001, 1002, 1003 + 1, 1003 + 12]  # host-1 too


def test_regex_literal_prefixes() -> None:
    assert regex_literal_prefix("^alert-7: .*$", anchored=False) == "alert-7: "
    assert regex_literal_prefix("alert", anchored=False) is None  # unanchored search
    assert regex_literal_prefix("alert", anchored=True) == "alert"
    assert regex_literal_prefix("^ab?", anchored=False) == "a"
    assert regex_literal_prefix("(?i)^ab", anchored=False) is None
    assert regex_literal_prefix("(?m)^ab", anchored=False) is None
    assert regex_literal_prefix("^a|^b", anchored=False) is None
    assert regex_literal_prefix("[", anchored=False) is None

"""RuleIndex: rules keyed by trigger type and parameters; enabled only; backstop split."""

from __future__ import annotations

from typing import Any

from core.models import Rule, RuleAction, RuleTrigger
from core.rules.index import WEBHOOK_TRIGGER, RuleIndex, trigger_key


def rule(
    name: str,
    trigger: str = WEBHOOK_TRIGGER,
    *,
    enabled: bool = True,
    type_: str = "standard",
    **parameters: Any,
) -> Rule:
    return Rule(
        "demo",
        name,
        RuleTrigger(trigger, parameters),
        RuleAction("core.noop"),
        enabled=enabled,
        type=type_,
    )


def test_keyed_by_trigger_parameters() -> None:
    index = RuleIndex([rule("a", url="a"), rule("b", url="b"), rule("a2", url="a")])
    assert [r.name for r in index.candidates(WEBHOOK_TRIGGER, {"url": "a"}).standard] == [
        "a",
        "a2",
    ]
    assert [r.name for r in index.candidates(WEBHOOK_TRIGGER, {"url": "b"}).standard] == ["b"]
    assert len(index.candidates(WEBHOOK_TRIGGER, {"url": "c"})) == 0
    assert len(index.candidates("core.st2.IntervalTimer", {"url": "a"})) == 0


def test_webhook_url_slashes_are_stripped() -> None:
    index = RuleIndex([rule("a", url="/github/push/")])
    assert len(index.candidates(WEBHOOK_TRIGGER, {"url": "github/push"})) == 1
    assert index.triggers() == [(WEBHOOK_TRIGGER, {"url": "github/push"})]


def test_parameter_order_does_not_matter() -> None:
    timer = "core.st2.IntervalTimer"
    index = RuleIndex([rule("t", timer, unit="seconds", delta=5)])
    assert len(index.candidates(timer, {"delta": 5, "unit": "seconds"})) == 1
    assert len(index.candidates(timer, {"delta": 6, "unit": "seconds"})) == 0
    assert trigger_key(timer, {"a": 1, "b": 2}) == trigger_key(timer, {"b": 2, "a": 1})


def test_disabled_rules_are_left_out() -> None:
    index = RuleIndex([rule("on", url="x"), rule("off", url="x", enabled=False)])
    assert len(index) == 1
    assert [r.name for r in index.rules()] == ["on"]


def test_backstop_rules_are_kept_apart() -> None:
    index = RuleIndex([rule("s", url="x"), rule("b", url="x", type_="backstop")])
    group = index.candidates(WEBHOOK_TRIGGER, {"url": "x"})
    assert [r.name for r in group.standard] == ["s"]
    assert [r.name for r in group.backstop] == ["b"]


def test_no_parameters_is_empty_parameters() -> None:
    index = RuleIndex([rule("any", "core.st2.generic.actiontrigger")])
    assert len(index.candidates("core.st2.generic.actiontrigger", None)) == 1
    assert len(index.candidates("core.st2.generic.actiontrigger", {})) == 1


def test_trigger_keys_remembered_by_value_and_type() -> None:
    """The remembered keys tell True, 1 and 1.0 apart (equal in Python, not in JSON), and
    parameters that cannot be remembered (a list) still get their key."""
    keys = [trigger_key("pack.t", {"a": value}) for value in (1, True, 1.0, 1, True)]
    assert [k for _, k in keys] == ['{"a":1}', '{"a":true}', '{"a":1.0}', '{"a":1}', '{"a":true}']
    assert trigger_key("pack.t", {"a": [1]}) == ("pack.t", '{"a":[1]}')
    assert trigger_key(WEBHOOK_TRIGGER, {"url": "/a/"}) == trigger_key(
        WEBHOOK_TRIGGER, {"url": "a"}
    )

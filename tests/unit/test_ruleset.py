"""The effective rule set: file ``enabled`` overlaid with CLI overrides, with change events."""

from __future__ import annotations

from core.models import Rule, RuleAction, RuleTrigger
from core.rules.index import WEBHOOK_TRIGGER
from core.rules.ruleset import RuleSet


def rule(name: str, *, enabled: bool, trigger: str = WEBHOOK_TRIGGER, url: str = "") -> Rule:
    trigger_spec = RuleTrigger(trigger, {"url": url or name})
    return Rule("demo", name, trigger_spec, RuleAction("core.noop", {}), enabled=enabled)


def test_file_enabled_flag_applies_without_overrides() -> None:
    rules = RuleSet([rule("on", enabled=True), rule("off", enabled=False)])
    assert rules.webhook_urls() == frozenset({"on"})
    assert [r.ref for r in rules.index.rules()] == ["demo.on"]
    assert rules.consumes(WEBHOOK_TRIGGER)


def test_override_wins_and_notifies_once() -> None:
    rules = RuleSet([rule("on", enabled=True), rule("off", enabled=False)])
    seen: list[frozenset[str]] = []
    rules.subscribe(lambda current: seen.append(current.webhook_urls()))

    assert rules.apply_overrides({"demo.on": False, "demo.off": True}) is True
    assert rules.webhook_urls() == frozenset({"off"})
    assert seen == [frozenset({"off"})]
    changed = rules.get("demo.on")
    assert changed is not None and changed.enabled is False

    assert rules.apply_overrides({"demo.on": False, "demo.off": True}) is False
    assert len(seen) == 1  # nothing changed, nobody woken


def test_override_equal_to_the_file_changes_nothing() -> None:
    rules = RuleSet([rule("on", enabled=True)])
    assert rules.apply_overrides({"demo.on": True, "demo.gone": False}) is False
    assert rules.overrides == {"demo.on": True, "demo.gone": False}


def test_a_broken_listener_does_not_stop_the_others() -> None:
    rules = RuleSet([rule("on", enabled=True)])
    calls: list[str] = []

    def broken(_: RuleSet) -> None:
        raise RuntimeError("boom")

    rules.subscribe(broken)
    rules.subscribe(lambda _: calls.append("second"))
    rules.apply_overrides({"demo.on": False})
    assert calls == ["second"]
    assert not rules.consumes(WEBHOOK_TRIGGER)

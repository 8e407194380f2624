"""Pure parts of the sensor container: restart backoff and the triggers a sensor is told about."""

from __future__ import annotations

import random

from core.models import Rule
from core.models.trigger import RuleAction, RuleTrigger
from core.sensors.backoff import FailureHistory, RestartPolicy
from core.sensors.triggers import sensor_triggers, trigger_changes, trigger_dict


def test_backoff_doubles_up_to_the_cap_with_bounded_jitter() -> None:
    policy = RestartPolicy(initial_seconds=1, max_seconds=5, jitter=0.2, max_failures=100)
    history = FailureHistory(policy)
    rng = random.Random(7)
    delays = []
    for t in range(6):
        history.record(float(t))
        delays.append(history.delay(rng))
    for delay, base in zip(delays, [1, 2, 4, 5, 5, 5], strict=True):
        assert base * 0.8 <= delay <= base * 1.2
    assert len({round(d, 6) for d in delays[3:]}) == 3  # jitter: not all the same


def test_give_up_counts_failures_within_the_window_only() -> None:
    history = FailureHistory(RestartPolicy(max_failures=3, window_seconds=10))
    for t in (0.0, 5.0):
        history.record(t)
    assert not history.give_up
    history.record(11.0)  # the failure at 0 left the window
    assert not history.give_up
    history.record(12.0)
    assert history.give_up


def _rule(name: str, type_ref: str, parameters: dict[str, str], enabled: bool = True) -> Rule:
    return Rule(
        pack="p",
        name=name,
        trigger=RuleTrigger(type=type_ref, parameters=parameters),
        action=RuleAction(ref="core.noop"),
        enabled=enabled,
    )


def test_sensor_triggers_are_one_per_type_and_parameters_of_enabled_rules() -> None:
    rules = [
        _rule("a", "p.watched", {"path": "/a"}),
        _rule("b", "p.watched", {"path": "/a"}),  # same trigger, told once
        _rule("c", "p.watched", {"path": "/b"}, enabled=False),
        _rule("d", "p.other", {}),
    ]
    found = sensor_triggers(["p.watched"], rules)
    assert list(found.values()) == [trigger_dict("p.watched", {"path": "/a"})]
    trigger = trigger_dict("p.watched", {"path": "/a"})
    assert trigger["type"] == "p.watched" and trigger["pack"] == "p"
    assert trigger["parameters"] == {"path": "/a"}
    assert trigger["ref"].startswith("p.watched.") and trigger["uid"].startswith("trigger:p:")
    assert trigger_dict("p.tick", {})["ref"] == "p.tick"  # no parameters: the type's own name


def test_trigger_changes_add_remove_update() -> None:
    a, b = trigger_dict("p.w", {"x": "1"}), trigger_dict("p.w", {"x": "2"})
    before = {a["uid"]: a}
    after = {b["uid"]: b}
    assert [(c.op, c.trigger) for c in trigger_changes(before, after)] == [
        ("remove_trigger", a),
        ("add_trigger", b),
    ]
    changed = {**a, "name": "renamed"}
    assert [c.op for c in trigger_changes(before, {a["uid"]: changed})] == ["update_trigger"]
    assert trigger_changes(before, before) == []

"""match_rules and render_action: candidates by trigger, backstop, broken rules, rendering."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.models import Action, Rule, RuleAction, RuleTrigger
from core.rules.index import WEBHOOK_TRIGGER, RuleIndex
from core.rules.matcher import RULE_USER, match_rules, render_action

NOW = datetime(2026, 1, 1, tzinfo=UTC)
NAME_IS_ST2 = {"trigger.body.name": {"type": "equals", "pattern": "st2"}}
ECHO = Action(
    "demo",
    "echo",
    "noop",
    Path("."),
    parameters={
        "message": {"type": "string"},
        "count": {"type": "integer"},
        "tags": {"type": "array"},
        "who": {"type": "string"},
    },
)


def rule(
    name: str,
    url: str = "hook",
    criteria: dict[str, Any] | None = None,
    *,
    type_: str = "standard",
    **parameters: Any,
) -> Rule:
    return Rule(
        "demo",
        name,
        RuleTrigger(WEBHOOK_TRIGGER, {"url": url}),
        RuleAction("demo.echo", parameters),
        criteria=NAME_IS_ST2 if criteria is None else criteria,
        enabled=True,
        type=type_,
    )


def match(index: RuleIndex, body: dict[str, Any], url: str = "hook") -> dict[str, bool]:
    found = match_rules(index, WEBHOOK_TRIGGER, {"url": url}, {"body": body}, now=NOW)
    return {m.rule.name: m.matched for m in found}


def test_only_rules_on_the_trigger_are_evaluated() -> None:
    others = [rule(f"other{i}", url=f"other/{i}") for i in range(500)]
    index = RuleIndex([*others, rule("mine")])
    found = match_rules(index, WEBHOOK_TRIGGER, {"url": "hook"}, {"body": {"name": "st2"}}, now=NOW)
    assert [m.rule.name for m in found] == ["mine"]
    assert sum(len(m.criteria.details) for m in found) == 1


def test_two_webhook_urls_are_two_triggers() -> None:
    index = RuleIndex([rule("a", url="a"), rule("b", url="/b/")])
    assert match(index, {"name": "st2"}, url="a") == {"a": True}
    assert match(index, {"name": "st2"}, url="b") == {"b": True}
    assert match(index, {"name": "st2"}, url="c") == {}


def test_backstop_fires_only_without_a_standard_match() -> None:
    index = RuleIndex([rule("fallback", criteria={}, type_="backstop"), rule("std")])
    assert match(index, {"name": "st2"}) == {"std": True}
    assert match(index, {"name": "other"}) == {"std": False, "fallback": True}


def test_broken_criterion_is_a_non_match_with_an_error() -> None:
    broken = {"trigger.body.name": {"type": "no_such_operator", "pattern": "x"}}
    index = RuleIndex([rule("broken", criteria=broken)])
    [found] = match_rules(index, WEBHOOK_TRIGGER, {"url": "hook"}, {"body": {}}, now=NOW)
    assert not found.matched
    assert found.criteria.failed_key == "trigger.body.name"
    assert found.criteria.error is not None


def test_failing_criterion_explains_why() -> None:
    index = RuleIndex([rule("r")])
    [found] = match_rules(index, WEBHOOK_TRIGGER, {"url": "hook"}, {"body": {"name": "x"}}, now=NOW)
    assert found.criteria.failed_key == "trigger.body.name"
    assert found.criteria.error is None
    assert "'x'" in (found.criteria.reason or "")


def test_render_from_trigger_payload() -> None:
    r = rule("r", message="hello {{ trigger.body.name }}", who="{{ action_context.user }}")
    rendered = render_action(r, ECHO, {"body": {"name": "st2"}}, pack_config={})
    assert rendered.ok
    assert rendered.parameters["message"] == "hello st2"
    assert rendered.parameters["who"] == RULE_USER


def test_render_preserves_types() -> None:
    r = rule("r", count="{{ trigger.body.n }}", tags="{{ trigger.body.tags }}")
    rendered = render_action(r, ECHO, {"body": {"n": 3, "tags": ["a", "b"]}}, pack_config={})
    assert rendered.parameters["count"] == 3
    assert rendered.parameters["tags"] == ["a", "b"]


def test_render_reads_config_and_rule_ref() -> None:
    r = rule("r", message="{{ config_context.greeting }} {{ action_context.rule.ref }}")
    rendered = render_action(r, ECHO, {}, pack_config={"greeting": "hi"})
    assert rendered.parameters["message"] == "hi demo.r"


def test_render_error_is_captured() -> None:
    r = rule("r", message="{{ trigger.body.missing.deeper }}")
    rendered = render_action(r, ECHO, {"body": {}}, pack_config={})
    assert not rendered.ok
    assert "message" in (rendered.error or "")
    assert rendered.parameters == {}


def test_unknown_parameter_is_captured() -> None:
    rendered = render_action(rule("r", nope="x"), ECHO, {}, pack_config={})
    assert rendered.error is not None and "nope" in rendered.error

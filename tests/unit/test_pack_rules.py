"""Rules (``rules/*.yaml``, st2-format §4.1): loading, every validation error, index lookups."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.models import Rule, RuleAction, RuleTrigger
from core.packs.index import UnknownRuleError
from core.packs.loader import LoadResult, load_packs
from tests.packs import make_pack

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "packs"
FIXTURES = ROOT / "tests" / "fixtures" / "packs"
HELLO = FIXTURES / "good" / "hello-st2"
BAD = FIXTURES / "rules_broken" / "bad_rules"
SAMPLE_RULE = """\
---
name: sample_rule
pack: mine
description: Sample rule firing on a webhook.
enabled: true
trigger:
  type: core.st2.webhook
  parameters:
    url: sample
criteria:
  trigger.body.name:
    type: equals
    pattern: st2
action:
  ref: core.echo
  parameters:
    message: "{{ trigger.body.name }}"
"""


def rule_errors(result: LoadResult) -> list[tuple[str, str, str]]:
    return sorted(
        (e.file.name, e.yaml_path, e.message)
        for e in result.errors
        if e.file.parent.name == "rules"
    )


@pytest.fixture(scope="module")
def broken() -> LoadResult:
    return load_packs([BUNDLED, BAD], config_dir=None)


def test_sample_webhook_rule(tmp_path: Path) -> None:
    make_pack(tmp_path, "mine", {"rules/sample.yaml": SAMPLE_RULE})
    result = load_packs([BUNDLED, tmp_path], config_dir=None)
    assert result.errors == []
    assert result.index.get_rule("mine.sample_rule") == Rule(
        pack="mine",
        name="sample_rule",
        description="Sample rule firing on a webhook.",
        enabled=True,
        trigger=RuleTrigger("core.st2.webhook", {"url": "sample"}),
        criteria={"trigger.body.name": {"type": "equals", "pattern": "st2"}},
        action=RuleAction("core.echo", {"message": "{{ trigger.body.name }}"}),
        metadata_file=tmp_path / "mine" / "rules" / "sample.yaml",
    )
    assert [
        r.ref
        for r in [
            r
            for r in result.index.rules.values()
            if r.trigger.type == "core.st2.webhook" and r.enabled
        ]
    ] == ["mine.sample_rule"]


def test_fixture_pack_rules_and_defaults() -> None:
    index = load_packs([HELLO], config_dir=None).index
    assert sorted(index.rules) == ["hello_st2.on_event", "hello_st2.webhook"]
    webhook = index.get_rule("hello_st2.webhook")
    assert (webhook.enabled, webhook.type, webhook.pack) == (False, "backstop", "hello_st2")
    assert webhook.criteria["trigger.body.commits"]["condition"] == "any"
    assert webhook.tags == ({"name": "example"},)
    on_event = index.get_rule("hello_st2.on_event")
    assert on_event.trigger == RuleTrigger("hello_st2.event", {"channel": "general"})
    assert (on_event.enabled, on_event.type, on_event.context) == (True, "standard", {})


def test_unknown_rule_suggests_close_matches() -> None:
    index = load_packs([HELLO], config_dir=None).index
    with pytest.raises(UnknownRuleError) as caught:
        index.get_rule("hello_st2.webhok")
    assert str(caught.value) == "unknown rule 'hello_st2.webhok'; did you mean 'hello_st2.webhook'?"
    assert isinstance(caught.value, KeyError)


def test_missing_keys(broken: LoadResult) -> None:
    assert [e for e in rule_errors(broken) if e[0] == "nameless.yaml"] == [
        ("nameless.yaml", "action", "required key is missing"),
        ("nameless.yaml", "name", "required key is missing"),
        ("nameless.yaml", "trigger", "required key is missing"),
    ]


def test_field_errors_are_all_reported(broken: LoadResult) -> None:
    assert [e[1:] for e in rule_errors(broken) if e[0] == "bad_fields.yaml"] == [
        ("action.parameters", "expected an object, got an array"),
        ("action.ref", "required key is missing"),
        ("actoin", "unknown key; did you mean 'action'?"),
        ("criteria.trigger.body.a.type", "required key is missing"),
        ("criteria.trigger.body.b.patern", "unknown key; did you mean 'pattern'?"),
        (
            "criteria.trigger.body.c.condition",
            "expected one of 'any', 'all', 'any2any', 'all2any'; got string 'some'",
        ),
        ("criteria.trigger.body.d", "expected an object, got string 'equals'"),
        ("description", "expected a string, got integer 42"),
        ("enabled", "expected a boolean, got string 'yes'"),
        ("metadata_file", "expected a string, got integer 5"),
        ("trigger.paramters", "unknown key; did you mean 'parameters'?"),
        ("trigger.type", "required key is missing"),
        ("type.ref", "expected one of 'standard', 'backstop'; got string 'fallback'"),
    ]


def test_errors_carry_lines_when_the_key_exists(broken: LoadResult) -> None:
    lines = {e.yaml_path: e.line for e in broken.errors if e.file.name == "bad_fields.yaml"}
    assert (lines["enabled"], lines["actoin"]) == (4, 21)


def test_pack_field_and_duplicates(broken: LoadResult) -> None:
    found = [e for e in rule_errors(broken) if e[0] in ("other_pack.yaml", "b_second.yaml")]
    assert found == [
        ("b_second.yaml", "name", "rule 'twice' is already defined in rules/a_first.yaml"),
        (
            "other_pack.yaml",
            "pack",
            "the rule says pack 'somebody_else' but it is in pack 'bad_rules'",
        ),
    ]
    assert broken.index.get_rule("bad_rules.twice").enabled is True  # the first file wins


def test_unknown_trigger_type_and_action(broken: LoadResult) -> None:
    assert [e[1:] for e in rule_errors(broken) if e[0] == "unknown_refs.yaml"] == [
        ("action.ref", "unknown action 'core.ecoh'; did you mean 'core.echo'?"),
        (
            "trigger.type",
            "unknown trigger type 'core.st2.webhok'; did you mean 'core.st2.webhook'?",
        ),
    ]


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        (
            "interval.yaml",
            [
                ("trigger.parameters.delta", "expected an integer, got string '5'"),
                (
                    "trigger.parameters.unit",
                    "expected one of 'weeks', 'days', 'hours', 'minutes', 'seconds'; "
                    "got string 'fortnights'",
                ),
            ],
        ),
        (
            "cron.yaml",
            [
                ("trigger.parameters.minute", "75 is greater than the maximum of 59"),
                ("trigger.parameters.seconds", "unknown key; did you mean 'second'?"),
            ],
        ),
        (
            "date.yaml",
            [
                ("trigger.parameters.date", "required key is missing"),
                ("trigger.parameters.timezone", "expected a string, got integer 3"),
            ],
        ),
        (
            "webhook.yaml",
            [
                ("trigger.parameters.url", "required key is missing"),
                ("trigger.parameters.urll", "unknown key; did you mean 'url'?"),
            ],
        ),
        ("pack_trigger.yaml", [("trigger.parameters.level", "expected a string, got integer 3")]),
    ],
)
def test_trigger_parameters_are_checked_against_the_type(
    broken: LoadResult, file: str, expected: list[tuple[str, str]]
) -> None:
    assert [e[1:] for e in rule_errors(broken) if e[0] == file] == expected


def test_invalid_rules_are_left_out(broken: LoadResult) -> None:
    assert [r for r in broken.index.rules if r.startswith("bad_rules.")] == ["bad_rules.twice"]
    # Every error of the rule files is checked by a test above, but the unparsable file's:
    syntax = "invalid YAML: while parsing a flow sequence: did not find expected ',' or ']'"
    assert ("broken.yaml", "", syntax) in rule_errors(broken)
    assert len(rule_errors(broken)) == 30


def test_references_to_a_later_pack_resolve(tmp_path: Path) -> None:
    rule = (
        "name: r\nenabled: true\ntrigger: {type: later.thing, parameters: {n: 1}}\n"
        "action: {ref: later.act}\n"
    )
    make_pack(tmp_path, "early", {"rules/r.yaml": rule})
    trigger = "name: thing\nparameters_schema: {properties: {n: {type: integer}}}\n"
    make_pack(
        tmp_path,
        "later",
        {"triggers/thing.yaml": trigger, "actions/act.yaml": "name: act\nrunner_type: noop\n"},
    )
    result = load_packs([tmp_path / "early", tmp_path / "later"], config_dir=None)
    assert result.errors == []
    assert [
        r.ref
        for r in [
            r for r in result.index.rules.values() if r.trigger.type == "later.thing" and r.enabled
        ]
    ] == ["early.r"]


def test_a_rule_on_a_skipped_pack_is_not_registered(tmp_path: Path) -> None:
    make_pack(tmp_path, "mine", {"rules/sample.yaml": SAMPLE_RULE})
    (tmp_path / "mine" / "pack.yaml").write_text("name: mine\n")
    result = load_packs([tmp_path / "mine"], config_dir=None)
    assert result.index.rules == {}
    assert {e.file.name for e in result.errors} == {"pack.yaml"}

"""Built-in trigger types, pack-declared ones (``triggers/*.yaml``) and their index lookups."""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft4Validator

from core.models import TriggerType
from core.packs.index import ContentIndex, UnknownTriggerTypeError
from core.packs.loader import load_packs
from core.triggers import BUILTIN_TRIGGER_TYPES, CRON_TIMER, INTERVAL_TIMER, WEBHOOK

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "packs"
BAD = FIXTURES / "rules_broken" / "bad_rules"

BUILTIN_REFS = [
    "core.st2.CronTimer",
    "core.st2.DateTimer",
    "core.st2.IntervalTimer",
    "core.st2.action.file_written",
    "core.st2.generic.actiontrigger",
    "core.st2.generic.inquiry",
    "core.st2.generic.notifytrigger",
    "core.st2.key_value_pair.create",
    "core.st2.key_value_pair.delete",
    "core.st2.key_value_pair.update",
    "core.st2.key_value_pair.value_change",
    "core.st2.sensor.process_exit",
    "core.st2.sensor.process_spawn",
    "core.st2.webhook",
]


def valid(schema_owner: TriggerType, parameters: object) -> bool:
    return Draft4Validator(schema_owner.parameters_schema).is_valid(parameters)


def test_builtin_refs_are_exactly_those_of_st2() -> None:
    assert sorted(BUILTIN_TRIGGER_TYPES) == BUILTIN_REFS
    assert all(t.pack == "core" and t.ref == r for r, t in BUILTIN_TRIGGER_TYPES.items())


@pytest.mark.parametrize("ref", BUILTIN_REFS)
def test_builtin_schemas_are_valid_draft4(ref: str) -> None:
    trigger = BUILTIN_TRIGGER_TYPES[ref]
    Draft4Validator.check_schema(trigger.parameters_schema)
    Draft4Validator.check_schema(trigger.payload_schema)
    assert trigger.payload_schema["type"] == "object"


def test_webhook_needs_a_url() -> None:
    webhook = BUILTIN_TRIGGER_TYPES[WEBHOOK]
    assert valid(webhook, {"url": "github/pulls"})
    assert not valid(webhook, {})
    assert not valid(webhook, {"url": "x", "path": "y"})
    assert set(webhook.payload_schema["properties"]) == {"headers", "headers_lower", "body"}


def test_interval_timer_unit_and_delta() -> None:
    timer = BUILTIN_TRIGGER_TYPES[INTERVAL_TIMER]
    assert valid(timer, {"unit": "seconds", "delta": 30, "timezone": "UTC"})
    assert not valid(timer, {"unit": "fortnights", "delta": 1})
    assert not valid(timer, {"unit": "days", "delta": "1"})
    assert not valid(timer, {"unit": "days"})


def test_cron_timer_fields() -> None:
    cron = BUILTIN_TRIGGER_TYPES[CRON_TIMER]
    assert valid(cron, {})
    assert valid(cron, {"minute": "*/5", "day_of_week": "mon-fri", "hour": 2, "year": 2030})
    assert not valid(cron, {"minute": 60})
    assert not valid(cron, {"day_of_week": 7})
    assert not valid(cron, {"hour": True})
    assert not valid(cron, {"seconds": 0})


def test_date_timer_needs_a_date() -> None:
    date = BUILTIN_TRIGGER_TYPES["core.st2.DateTimer"]
    assert valid(date, {"date": "2014-12-31 23:59:59", "timezone": "UTC"})
    assert not valid(date, {"timezone": "UTC"})


def test_builtins_are_preregistered_in_every_index() -> None:
    first, second = ContentIndex(), ContentIndex()
    assert first.get_trigger_type(WEBHOOK) is BUILTIN_TRIGGER_TYPES[WEBHOOK]
    first.trigger_types.clear()
    assert WEBHOOK in second.trigger_types  # each index has its own copy


def test_unknown_trigger_type_suggests_close_matches() -> None:
    with pytest.raises(UnknownTriggerTypeError) as caught:
        ContentIndex().get_trigger_type("core.st2.IntervalTimr")
    assert str(caught.value) == (
        "unknown trigger type 'core.st2.IntervalTimr'; did you mean 'core.st2.IntervalTimer'?"
    )
    assert isinstance(caught.value, KeyError)


def test_pack_trigger_type_loads_with_required_lifted_to_draft4() -> None:
    index = load_packs([FIXTURES / "good" / "hello-st2"], config_dir=None).index
    event = index.get_trigger_type("hello_st2.event")
    assert (event.pack, event.name, event.description) == (
        "hello_st2",
        "event",
        "An event the pack's sensor would dispatch.",
    )
    assert event.parameters_schema == {
        "type": "object",
        "properties": {"channel": {"type": "string"}},
        "required": ["channel"],
    }
    assert event.payload_schema["properties"] == {"greeting": {"type": "string"}}
    assert event.metadata_file == FIXTURES / "good" / "hello-st2" / "triggers" / "event.yaml"


def test_broken_trigger_type_files() -> None:
    result = load_packs([BAD], config_dir=None)
    found = sorted(
        (e.yaml_path, e.message) for e in result.errors if e.file.parent.name == "triggers"
    )
    assert found == [
        ("name", "required key is missing"),
        (
            "parameters_schema.properties.level.type",
            "invalid JSON schema: 12 is not valid under any of the given schemas",
        ),
        ("payload", "unknown key; did you mean 'payload_schema'?"),
        ("payload_schema", "expected an object, got an array"),
    ]
    assert "bad_rules.good" in result.index.trigger_types


def test_duplicate_and_builtin_trigger_names(tmp_path: Path) -> None:
    pack = tmp_path / "core"
    (pack / "triggers").mkdir(parents=True)
    (pack / "pack.yaml").write_text("name: core\ndescription: d\nversion: 1.0.0\nauthor: me\n")
    (pack / "triggers" / "a.yaml").write_text("name: st2.webhook\n")
    (pack / "triggers" / "b.yaml").write_text("name: mine\n")
    (pack / "triggers" / "c.yml").write_text("name: mine\n")
    result = load_packs([pack], config_dir=None)
    assert [(e.file.name, e.yaml_path, e.message) for e in result.errors] == [
        ("c.yml", "name", "trigger type 'mine' is already defined in triggers/b.yaml"),
        ("a.yaml", "name", "trigger type 'core.st2.webhook' is built in and cannot be redefined"),
    ]
    assert result.index.get_trigger_type(WEBHOOK) is BUILTIN_TRIGGER_TYPES[WEBHOOK]
    assert "core.mine" in result.index.trigger_types

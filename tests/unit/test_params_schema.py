"""merge_parameter_schemas (st2-format §2.2) and the draft-4 conversion used for validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.models import Action, RunnerType
from core.params import OVERRIDABLE_ATTRS, ParameterError, merge_parameter_schemas
from core.params.validate import to_draft4, validate_value

RUNNER = RunnerType(
    name="local-shell-cmd",
    parameters={
        "cmd": {"type": "string", "description": "Command."},
        "sudo": {"type": "boolean", "default": False},
        "locked": {"type": "string", "default": "x", "immutable": True},
        "timeout": {"type": "integer", "default": 60, "minimum": 1},
    },
)


def _action(**parameters: Any) -> Action:
    return Action("core", "local", "local-shell-cmd", Path("."), parameters=parameters)


def test_runner_only_and_action_only_parameters() -> None:
    merged = merge_parameter_schemas(RUNNER, _action(message={"type": "string"}))
    assert list(merged) == ["cmd", "sudo", "locked", "timeout", "message"]
    assert merged["message"] == {"type": "string"}
    assert merged["timeout"] == {"type": "integer", "default": 60, "minimum": 1}


def test_merge_does_not_mutate_inputs() -> None:
    action = _action(sudo={"immutable": True})
    merge_parameter_schemas(RUNNER, action)
    assert RUNNER.parameters["sudo"] == {"type": "boolean", "default": False}
    assert action.parameters["sudo"] == {"immutable": True}


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"default": True}, {"type": "boolean", "default": True}),
        ({"description": "d"}, {"type": "boolean", "default": False, "description": "d"}),
        ({"enum": [False]}, {"type": "boolean", "default": False, "enum": [False]}),
        ({"required": True}, {"type": "boolean", "default": False, "required": True}),
        ({"immutable": True}, {"type": "boolean", "default": False, "immutable": True}),
        ({"type": "boolean"}, {"type": "boolean", "default": False}),
    ],
)
def test_overridable_attributes(override: dict[str, Any], expected: dict[str, Any]) -> None:
    assert merge_parameter_schemas(RUNNER, _action(sudo=override))["sudo"] == expected


def test_overridable_set_is_st2s() -> None:
    assert frozenset({"default", "description", "enum", "immutable", "required"}) == (
        OVERRIDABLE_ATTRS
    )


def test_immutable_is_ored() -> None:
    merged = merge_parameter_schemas(RUNNER, _action(locked={"immutable": False, "default": "y"}))
    assert merged["locked"] == {"type": "string", "default": "y", "immutable": True}


@pytest.mark.parametrize(
    ("name", "override", "attr"),
    [
        ("sudo", {"type": "string"}, "type"),
        ("timeout", {"minimum": 5}, "minimum"),
        ("cmd", {"secret": True}, "secret"),
        ("cmd", {"default": "ls", "position": 0}, "position"),
    ],
)
def test_non_overridable_attribute(name: str, override: dict[str, Any], attr: str) -> None:
    with pytest.raises(ParameterError) as info:
        merge_parameter_schemas(RUNNER, _action(**{name: override}))
    assert str(info.value) == (
        f'The attribute "{attr}" for the runner parameter "{name}" in action "core.local" '
        "cannot be overridden."
    )
    assert info.value.param == name
    assert isinstance(info.value, ValueError)


def test_to_draft4_lifts_boolean_required() -> None:
    schema = {
        "type": "object",
        "required": True,
        "enum": [{"required": True}],
        "properties": {
            "a": {"type": "string", "required": True},
            "b": {"type": "object", "properties": {"c": {"required": True}}},
            "required": {"type": "string", "required": False},
        },
        "items": {"properties": {"x": {"required": True}}},
    }
    assert to_draft4(schema) == {
        "type": "object",
        "enum": [{"required": True}],
        "properties": {
            "a": {"type": "string"},
            "b": {"type": "object", "properties": {"c": {}}, "required": ["c"]},
            "required": {"type": "string"},
        },
        "items": {"properties": {"x": {}}, "required": ["x"]},
        "required": ["a"],
    }


def test_validate_nested_required() -> None:
    schema = {"type": "object", "properties": {"host": {"type": "string", "required": True}}}
    validate_value("target", schema, {"host": "h"})
    with pytest.raises(ParameterError, match="'host' is a required property") as info:
        validate_value("target", schema, {})
    assert 'parameter "target"' in str(info.value)


def test_validate_bad_schema() -> None:
    with pytest.raises(ParameterError, match='Invalid schema for parameter "x"'):
        validate_value("x", {"type": "nonsense"}, 1)

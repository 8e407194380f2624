"""resolve_parameters: the st2 rendering pipeline (st2-format §2.3) with st2's messages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.models import Action, RunnerType
from core.params import KeyValueLookup, ParameterError, ResolvedParameters, resolve_parameters
from core.runners.types import RUNNER_TYPES
from core.templates.render import NONE_MAGIC_VALUE

SHELL = RUNNER_TYPES["local-shell-cmd"]
BARE = RunnerType(name="noop")


def _action(runner: RunnerType = BARE, **parameters: Any) -> Action:
    return Action("demo", "act", runner.name, Path("."), parameters=parameters)


def _resolve(parameters: dict[str, Any], live: dict[str, Any] | None = None, **kw: Any) -> Any:
    return resolve_parameters(BARE, _action(**parameters), live or {}, **kw).all


# --- split and shape ----------------------------------------------------------------------------


def test_split_between_runner_and_action() -> None:
    action = _action(
        SHELL,
        cmd={"default": "echo {{ message }}", "immutable": True},
        message={"type": "string", "required": True},
    )
    result = resolve_parameters(SHELL, action, {"message": "hi", "timeout": "5"})
    assert isinstance(result, ResolvedParameters)
    assert result.runner == {
        "cmd": "echo hi",
        "cwd": None,
        "env": None,
        "kwarg_op": "--",
        "sudo": False,
        "sudo_password": None,
        "timeout": 5,
    }
    assert result.action == {"message": "hi"}
    assert result.all == {**result.runner, "message": "hi"}
    assert result.schema["cmd"]["immutable"] is True
    with pytest.raises(AttributeError):
        result.runner = {}  # type: ignore[misc]


def test_live_value_overrides_default() -> None:
    assert _resolve({"a": {"type": "string", "default": "d"}}, {"a": "live"}) == {"a": "live"}


def test_none_live_value_takes_default() -> None:
    assert _resolve({"a": {"type": "string", "default": "d"}}, {"a": None}) == {"a": "d"}


def test_unset_parameters_are_none() -> None:
    assert _resolve({"a": {"type": "string"}}) == {"a": None}


# --- live value checks --------------------------------------------------------------------------


def test_unknown_live_parameter() -> None:
    with pytest.raises(ParameterError) as info:
        _resolve({"a": {}}, {"foo": 1})
    assert str(info.value) == "Additional properties are not allowed ('foo' was unexpected)"
    assert info.value.param == "foo"


def test_several_unknown_live_parameters() -> None:
    with pytest.raises(ParameterError) as info:
        _resolve({}, {"zed": 1, "foo": 2})
    assert str(info.value) == "Additional properties are not allowed ('foo', 'zed' were unexpected)"


def test_immutable_live_value_is_rejected() -> None:
    action = _action(SHELL, sudo={"immutable": True})
    with pytest.raises(ParameterError) as info:
        resolve_parameters(SHELL, action, {"sudo": True, "cmd": "ls"})
    assert str(info.value) == "Override of immutable parameter(s) ['sudo'] is unsupported."
    assert info.value.param == "sudo"


def test_immutable_takes_default() -> None:
    params = {
        "a": {"type": "string", "default": "x"},
        "b": {"default": "{{ a }}", "immutable": True},
    }
    assert _resolve(params, {"a": "y"}) == {"a": "y", "b": "y"}


def test_required_missing() -> None:
    with pytest.raises(ParameterError) as info:
        resolve_parameters(SHELL, _action(SHELL, cmd={"required": True}), {})
    assert str(info.value) == "'cmd' is a required property"
    assert info.value.param == "cmd"


def test_required_satisfied_by_default() -> None:
    assert _resolve({"a": {"type": "integer", "required": True, "default": 3}}) == {"a": 3}


def test_use_none_counts_as_missing_for_required() -> None:
    params = {"a": {"type": "string", "required": True, "default": "{{ none | use_none }}"}}
    with pytest.raises(ParameterError, match="'a' is a required property"):
        _resolve(params)


@pytest.mark.parametrize(
    ("schema", "value", "message"),
    [
        ({"type": "string", "enum": ["a", "b"]}, "c", "'c' is not one of ['a', 'b']"),
        ({"type": "integer", "minimum": 1}, "0", "0 is less than the minimum of 1"),
        ({"type": "boolean"}, "1", "1 is not of type 'boolean'"),
        ({"type": "array", "items": {"type": "integer"}}, '[1, "x"]', "'x' is not of type"),
        ({"type": "string", "pattern": "^[a-z]+$"}, "A;rm", "does not match '^[a-z]+$'"),
    ],
)
def test_schema_validation(schema: dict[str, Any], value: str, message: str) -> None:
    with pytest.raises(ParameterError) as info:
        _resolve({"p": schema}, {"p": value})
    assert message in str(info.value)
    assert 'parameter "p' in str(info.value)
    assert info.value.param == "p"


def test_rendered_value_is_validated_too() -> None:
    params = {"a": {"type": "string", "enum": ["x"], "default": "{{ 'y' }}"}}
    with pytest.raises(ParameterError, match="'y' is not one of"):
        _resolve(params)


def test_secret_value_not_in_validation_message() -> None:
    params = {"pw": {"type": "string", "secret": True, "minLength": 20}}
    with pytest.raises(ParameterError) as info:
        _resolve(params, {"pw": "hunter2"})
    assert "hunter2" not in str(info.value)
    assert 'parameter "pw"' in str(info.value)


def test_secret_value_not_in_cast_message() -> None:
    with pytest.raises(ParameterError) as info:
        _resolve({"pin": {"type": "integer", "secret": True}}, {"pin": "s3cr3t"})
    assert "s3cr3t" not in str(info.value)
    assert info.value.param == "pin"


# --- templates and dependencies -----------------------------------------------------------------


def test_default_depends_on_other_parameter() -> None:
    params = {"a": {"type": "string", "default": "one"}, "b": {"default": "{{ a }}-x"}}
    assert _resolve(params) == {"a": "one", "b": "one-x"}
    assert _resolve(params, {"a": "two"}) == {"a": "two", "b": "two-x"}


def test_chained_defaults_in_any_declaration_order() -> None:
    params = {
        "c": {"type": "string", "default": "{{ b }}!"},
        "b": {"type": "string", "default": "{{ a }}{{ a }}"},
        "a": {"type": "integer", "default": "{{ 2 + 3 }}"},
    }
    assert _resolve(params) == {"c": "55!", "b": "55", "a": 5}


def test_later_templates_see_cast_values() -> None:
    params = {"n": {"type": "integer", "default": "{{ 2 }}"}, "m": {"default": "{{ n + 1 }}"}}
    assert _resolve(params) == {"n": 2, "m": "3"}


def test_cyclic_dependency() -> None:
    params = {
        "a": {"default": "{{ b }}"},
        "b": {"default": "{{ a }}"},
        "me": {"default": "{{ me }}"},
        "after": {"default": "{{ a }}"},
        "fine": {"default": "ok"},
    }
    with pytest.raises(ParameterError) as info:
        _resolve(params)
    assert str(info.value) == (
        "Cyclic dependency found in the following variables: a, b, me. "
        "Likely the variable is referencing itself"
    )


def test_self_reference_names_the_parameter() -> None:
    with pytest.raises(ParameterError, match="variables: cyclic\\.") as info:
        _resolve({"cyclic": {}}, {"cyclic": "{{ cyclic }}"})
    assert info.value.param == "cyclic"


def test_dependency_unsatisfied() -> None:
    with pytest.raises(ParameterError) as info:
        _resolve({"r4": {}}, {"r4": "{{ variable_not_defined }}"})
    assert str(info.value).startswith('Dependency unsatisfied in variable "variable_not_defined"')
    assert '"r4"' in str(info.value)
    assert info.value.param == "r4"


def test_jinja_globals_are_not_dependencies() -> None:
    assert _resolve({"a": {"default": "{{ range(3) | list | length }}"}}) == {"a": "3"}


def test_render_failure_names_parameter() -> None:
    with pytest.raises(ParameterError) as info:
        _resolve({"a": {"default": "{{ 'x' | from_json_string }}"}})
    assert str(info.value).startswith('Failed to render parameter "a": ')
    assert info.value.param == "a"


def test_sandbox_escape_in_default_is_refused() -> None:
    with pytest.raises(ParameterError, match="unsafe"):
        _resolve({"a": {"default": "{{ ''.__class__.__mro__ }}"}})


def test_size_limit_in_live_value() -> None:
    with pytest.raises(ParameterError, match="limit"):
        _resolve({"a": {"type": "string"}}, {"a": "{{ 'a' * 10**9 }}"})


def test_contexts() -> None:
    params = {
        "who": {"type": "string", "default": "{{ action_context.api_user }}"},
        "port": {"type": "integer", "default": "{{ config_context.port }}"},
        "ev": {"type": "string", "default": "{{ trigger.event }}"},
    }
    result = _resolve(
        params,
        action_context={"api_user": "alice"},
        config_context={"port": "8080"},
        extra_context={"trigger": {"event": "push"}},
    )
    assert result == {"who": "alice", "port": 8080, "ev": "push"}


def test_missing_config_key_fails_to_render() -> None:
    with pytest.raises(ParameterError, match="has no attribute 'nope'"):
        _resolve({"a": {"default": "{{ config_context.nope }}"}}, config_context={})


def test_parameter_shadows_context_name() -> None:
    params = {"trigger": {"type": "string", "default": "mine"}, "b": {"default": "{{ trigger }}"}}
    assert _resolve(params, extra_context={"trigger": "theirs"})["b"] == "mine"


def test_st2kv_lookup() -> None:
    params = {
        "a": {"type": "string", "default": "{{ st2kv.system.host }}"},
        "b": {"type": "string", "default": "{{ st2kv.system.db.url }}"},
        "c": {"type": "string", "default": "[{{ st2kv.system.missing }}]"},
        "d": {"type": "string", "default": "{{ st2kv.user.token }}"},
        "e": {"type": "integer", "default": "{{ st2kv.system.count | int + 1 }}"},
        "f": {"type": "string", "default": "{{ st2kv.system['db.url'] }}"},
    }
    kv = {"system": {"host": "h1", "db.url": "pg://x", "count": "41"}, "user": {"token": "t"}}
    assert _resolve(params, kv=kv) == {
        "a": "h1",
        "b": "pg://x",
        "c": "[]",
        "d": "t",
        "e": 42,
        "f": "pg://x",
    }


def test_st2kv_without_kv_renders_empty() -> None:
    assert _resolve({"a": {"default": "x{{ st2kv.system.k }}"}}) == {"a": "x"}


def test_key_value_lookup_protocols() -> None:
    lookup = KeyValueLookup({"a": "1", "flag": ""})
    assert str(lookup.a) == "1"
    assert int(lookup.a) == 1
    assert float(lookup["a"]) == 1.0
    assert lookup.a == "1"
    assert lookup.a == KeyValueLookup({"x": "1"}).x
    assert not lookup.flag
    assert not lookup.missing
    assert repr(lookup.a) == "'1'"
    assert hash(lookup.a) == hash("1")
    with pytest.raises(AttributeError):
        _ = lookup._private


def test_dict_and_list_defaults_keep_types() -> None:
    params = {
        "n": {"type": "integer", "default": 3},
        "tags": {"type": "array", "default": ["a", "{{n}}", "{{ n }}-x"]},
        "opts": {"type": "object", "default": {"count": "{{ n }}", "nested": {"l": "{{ tags }}"}}},
    }
    assert _resolve(params) == {
        "n": 3,
        "tags": ["a", 3, "3-x"],
        "opts": {"count": 3, "nested": {"l": ["a", 3, "3-x"]}},
    }


def test_dict_rendered_into_string_is_repr() -> None:
    params = {
        "d": {"type": "object", "default": {"a": 1}},
        "s": {"type": "string", "default": "{{ d }}"},
    }
    assert _resolve(params)["s"] == "{'a': 1}"


def test_object_from_template_repr_is_cast_back() -> None:
    params = {
        "d": {"type": "object", "default": {"a": 1}},
        "copy": {"type": "object", "default": "{{ d }}"},
        "flag": {"type": "boolean", "default": "{{ 'true' }}"},
    }
    assert _resolve(params) == {"d": {"a": 1}, "copy": {"a": 1}, "flag": True}


def test_use_none_gives_none() -> None:
    params = {"a": {"type": "string", "default": "{{ none | use_none }}"}}
    assert _resolve(params) == {"a": None}
    assert NONE_MAGIC_VALUE not in str(_resolve(params))


# --- live values as templates -------------------------------------------------------------------


def test_live_templates_render_by_default() -> None:
    params = {"a": {"type": "string"}, "b": {"type": "string", "default": "x"}}
    assert _resolve(params, {"a": "{{ 7*7 }} {{ b }}"}) == {"a": "49 x", "b": "x"}


def test_render_live_false_keeps_caller_text_literal() -> None:
    params = {
        "a": {"type": "string"},
        "b": {"type": "string", "default": "got {{ a }}"},
        "c": {"type": "object"},
    }
    live = {"a": "{{ 7*7 }}", "c": {"k": "{{ st2kv.system.secret }}"}}
    result = _resolve(params, live, render_live=False, kv={"system": {"secret": "s"}})
    # Caller text is data: not rendered itself, and inserted as-is into pack templates.
    assert result == {
        "a": "{{ 7*7 }}",
        "b": "got {{ 7*7 }}",
        "c": {"k": "{{ st2kv.system.secret }}"},
    }


def test_render_live_false_does_not_touch_sandbox_escapes() -> None:
    text = "{{ ''.__class__.__mro__ }}"
    assert _resolve({"a": {"type": "string"}}, {"a": text}, render_live=False) == {"a": text}


def test_stray_braces_are_a_value() -> None:
    # st2 treats text that fails to parse as a plain value (users do type "{{").
    assert _resolve({"a": {"type": "string"}}, {"a": "use {{ like this"}) == {
        "a": "use {{ like this"
    }


def test_live_values_are_cast() -> None:
    params = {
        "i": {"type": "integer"},
        "n": {"type": "number"},
        "b": {"type": "boolean"},
        "l": {"type": "array"},
        "o": {"type": "object"},
    }
    live = {"i": "3", "n": "2.5", "b": "false", "l": "[1, 2]", "o": '{"a": 1}'}
    assert _resolve(params, live) == {"i": 3, "n": 2.5, "b": False, "l": [1, 2], "o": {"a": 1}}


def test_string_parameter_rejects_non_string() -> None:
    with pytest.raises(ParameterError) as info:
        _resolve({"s": {"type": "string"}}, {"s": 5})
    assert 'Value "5" must either be a string or None. Got "int".' in str(info.value)
    assert info.value.param == "s"

"""Alias values → action parameters: §6.5 cases 34 (array cast) and 35 (immutable)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.aliases import AliasIndex
from core.aliases.params import alias_parameters
from core.models import Action, Alias, AliasFormat
from core.params import ParameterError

ACTION = Action(
    pack="test",
    name="lorem",
    runner_type="noop",
    pack_path=Path("/nonexistent"),
    parameters={
        "param1": {"type": "string"},
        "param2": {"type": "string"},
        "param3": {"type": "array"},
        "count": {"type": "integer"},
    },
)
CONTEXT = {"action_alias_ref": "test.a", "api_user": "ann", "user": "bot", "source_channel": "#ops"}


def params_for(format_: str, text: str, **fields: Any) -> dict[str, Any]:
    alias = Alias(
        pack="test",
        name="a",
        action_ref="test.lorem",
        formats=(AliasFormat(format_, (format_,)),),
        **fields,
    )
    [match] = AliasIndex([alias]).match(text)
    return alias_parameters(match, ACTION, kv={"system": {"site": "eu"}}, context=CONTEXT)


FORMAT_34 = "Lorem ipsum {{param1}} dolor sit {{param3}} amet."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            'Lorem ipsum value1 dolor sit "value2, value3" amet.',
            {"param1": "value1", "param3": ["value2", "value3"]},
            id="case-34-quoted-list",
        ),
        pytest.param(
            "Lorem ipsum value1 dolor sit value2 amet.",
            {"param1": "value1", "param3": ["value2"]},
            id="case-34-single",
        ),
    ],
)
def test_case_34_array_from_comma_list(text: str, expected: dict[str, object]) -> None:
    assert params_for(FORMAT_34, text) == expected


def test_case_35_immutable_parameters_are_injected() -> None:
    immutable = {"param1": "value1", "param2": "value2"}
    assert params_for("lorem ipsum", "lorem ipsum", immutable_parameters=immutable) == immutable


def test_immutable_parameter_set_by_the_user_is_refused() -> None:
    with pytest.raises(ParameterError, match="Immutable arguments cannot be overriden: param1"):
        params_for("lorem ipsum", "lorem ipsum param1=x", immutable_parameters={"param1": "v"})


def test_immutable_templates_see_kv_and_the_execution_context() -> None:
    immutable = {
        "param1": "{{ api_user }}@{{ source_channel }}",
        "param2": "{{ st2kv.system.site }}",
    }
    assert params_for("go", "go", immutable_parameters=immutable) == {
        "param1": "ann@#ops",
        "param2": "eu",
    }


def test_chat_values_are_never_rendered() -> None:
    assert params_for("say {{param1}}", "say {{ st2kv.system.site }}") == {
        "param1": "{{ st2kv.system.site }}"
    }


def test_values_are_cast_and_errors_name_the_parameter() -> None:
    assert params_for("ping {{count}}", "ping 3") == {"count": 3}
    with pytest.raises(ParameterError, match="'count'") as caught:
        params_for("ping {{count}}", "ping three")
    assert caught.value.param == "count"

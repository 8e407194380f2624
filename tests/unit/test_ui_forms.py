"""Forms generated from parameter schemas and inquiry JSON schemas (bot.http.ui.forms)."""

from __future__ import annotations

import pytest

from bot.http.ui.forms import FormError, action_fields, json_schema_fields, parse

SCHEMA = {
    "message": {"type": "string", "required": True},
    "count": {"type": "integer", "default": 3},
    "ratio": {"type": "number"},
    "loud": {"type": "boolean", "default": False},
    "color": {"type": "string", "enum": ["red", "green"], "default": "red"},
    "tags": {"type": "array"},
    "token": {"type": "string", "secret": True, "default": "s3cret"},
    "fixed": {"type": "string", "immutable": True, "default": "x"},
}


def test_parameters_become_fields_of_their_kind_required_first_immutable_left_out() -> None:
    fields = action_fields(SCHEMA)
    assert fields[0].name == "message"
    assert "fixed" not in [f.name for f in fields]
    kinds = {f.name: f.input for f in fields}
    assert kinds == {"message": "text", "count": "number", "ratio": "number", "loud": "boolean",
                     "color": "select", "tags": "json", "token": "password"}  # fmt: skip
    token = next(f for f in fields if f.name == "token")
    assert token.shown_default == ""  # a secret default is never put in the page


def test_posted_values_are_typed_and_empty_fields_keep_their_defaults() -> None:
    fields = action_fields(SCHEMA)
    got = parse(fields, {"p.message": "hi", "p.count": "5", "p.ratio": "0.5", "p.loud": "true",
                         "p.color": "green", "p.tags": '["a"]', "p.token": ""})  # fmt: skip
    assert got == {"message": "hi", "count": 5, "ratio": 0.5, "loud": True, "color": "green",
                   "tags": ["a"]}  # fmt: skip


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({}, "message: required"),
        ({"p.message": "m", "p.count": "many"}, "count: expected an integer"),
        ({"p.message": "m", "p.color": "blue"}, "color: not one of the choices"),
        ({"p.message": "m", "p.tags": "{"}, "tags: invalid JSON"),
        ({"p.message": "m", "p.tags": "{}"}, "tags: expected a JSON array"),
        ({"p.message": "m", "p.loud": "yes"}, "loud: expected true or false"),
    ],
)
def test_bad_values_name_their_field(form: dict[str, str], error: str) -> None:
    with pytest.raises(FormError, match=error):
        parse(action_fields(SCHEMA), form)


def test_an_inquiry_schema_becomes_a_form() -> None:
    schema = {
        "type": "object",
        "properties": {
            "approved": {"type": "boolean"},
            "reason": {"type": "string", "description": "why"},
            "level": {"type": "integer", "enum": [1, 2]},
        },
        "required": ["reason"],
    }
    fields = json_schema_fields(schema)
    assert [(f.name, f.required, f.input) for f in fields] == [
        ("approved", False, "boolean"),
        ("reason", True, "text"),
        ("level", False, "select"),
    ]
    assert parse(fields, {"p.reason": "ok", "p.level": "2"}) == {"reason": "ok", "level": 2}

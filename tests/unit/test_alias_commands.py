"""Alias formats as typed commands (core.aliases.commands): which map, and how a call maps back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.aliases.commands import MAX_COMMANDS, alias_commands, call_parameters
from core.models import Action, Alias, AliasFormat

SCHEMA: dict[str, Any] = {
    "host": {"type": "string", "description": "the host", "required": True},
    "count": {"type": "integer"},
    "env": {"type": "string", "enum": ["staging", "prod"]},
    "flags": {"type": "array"},
    "force": {"type": "boolean"},
}
ACTION = Action(pack="demo", name="act", runner_type="noop", pack_path=Path("/p"))


def alias(name: str, *formats: str, multiple: bool = False) -> Alias:
    return Alias(
        "demo", name, "demo.act", description=f"{name} things",
        formats=tuple(AliasFormat(f, (f,), match_multiple=multiple) for f in formats),
    )  # fmt: skip


def specs(*aliases: Alias) -> dict[str, Any]:
    made = alias_commands(aliases, {"demo.act": ACTION}, {"demo.act": SCHEMA})
    return {s.name: s for s in made}


def test_formats_merge_into_one_command_and_a_call_picks_its_format() -> None:
    [ping] = specs(alias("Ping Host", "ping {{host}}", "ping {{host}} count {{count}}")).values()
    assert ping.name == "ping-host" and ping.description == "Ping Host things"
    options = {o.name: o for o in ping.options}
    assert (options["host"].required, options["host"].kind) == (True, "string")
    assert (options["count"].required, options["count"].kind) == (False, "integer")
    assert ping.representation_for(frozenset({"host"})) == "ping {{host}}"
    assert ping.representation_for(frozenset({"host", "count"})) == "ping {{host}} count {{count}}"
    assert ping.representation_for(frozenset({"count"})) is None


def test_enum_choices_defaults_and_booleans() -> None:
    [deploy] = specs(alias("deploy", "deploy {{host}} to {{env}} {{force=false}}")).values()
    options = {o.name: o for o in deploy.options}
    assert options["env"].choices == ("staging", "prod")
    assert options["force"].kind == "boolean" and not options["force"].required
    assert [o.required for o in deploy.options] == sorted(
        [o.required for o in deploy.options], reverse=True
    )


def test_what_does_not_map_cleanly_is_left_to_text() -> None:
    made = specs(
        alias("regex", "(run|exec) {{host}}"),
        alias("arrays", "tag {{flags}}"),
        alias("unknown", "frob {{nothing}}"),
        alias("upper", "x {{Host}}"),
        alias("multi", "dupe {{host}}", multiple=True),
    )
    assert made == {}


def test_disabled_aliases_and_the_limit() -> None:
    disabled = Alias(
        "demo", "off", "demo.act", enabled=False, formats=(AliasFormat("off", ("off",)),)
    )
    many = [alias(f"a{n}", f"cmd{n} {{{{host}}}}") for n in range(MAX_COMMANDS + 5)]
    made = specs(disabled, *many)
    assert "off" not in made and len(made) == MAX_COMMANDS


def test_call_parameters_fill_the_format_defaults() -> None:
    representation = "deploy {{host}} to {{env=staging}}"
    assert call_parameters(representation, {"host": "web"}) == {"host": "web", "env": "staging"}
    assert call_parameters(representation, {"host": "web", "env": "prod"})["env"] == "prod"
    assert call_parameters("n {{host}}", {"host": 3}) == {"host": "3"}

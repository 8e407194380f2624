"""Alias formats as typed platform commands (Discord subcommands), where they map cleanly.

A format maps cleanly when it is literal words and ``{{param}}`` / ``{{param=default}}`` only —
no regex syntax, no ``match_multiple`` — and every parameter is an action parameter of a simple
type (string, integer, number, boolean; an ``enum`` gives choices). An alias's clean formats
become one command whose options are all their parameters (required only where every format
requires them); a call picks the format its options fit. Everything else stays reachable as
text (``/squall text:…``). ``call_parameters`` turns a call's values into what matching that
format would have produced, so the rest of the path is the alias path. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from core.aliases.parser import compile_format
from core.models import Action, Alias, ParamSchema
from core.models.chat import CommandForm, CommandOption, CommandSpec, OptionKind

__all__ = ["MAX_COMMANDS", "alias_commands", "call_parameters"]

MAX_COMMANDS: Final = 25  # Discord's limit of subcommands in one group
MAX_OPTIONS: Final = 25  # options per command
MAX_CHOICES: Final = 25  # choices per option
MAX_CHOICE_TEXT: Final = 100  # a choice's name and value
MAX_COMMAND_TEXT: Final = 8000  # names, descriptions and choices of one command, in all
GROUP_TEXT: Final = 200  # the alias group's own name and description, with room to spare
_PARAM: Final = re.compile(r"{{\s*(\w+)\s*(=\s*[^{}]*?)?\s*}}")
_REGEX_SYNTAX: Final = re.compile(r"[\\.^$*+?()\[\]{}|]")
_OPTION_NAME: Final = re.compile(r"^[a-z0-9_-]{1,32}$")
_KINDS: Final[Mapping[str, OptionKind]] = {
    "string": "string", "integer": "integer", "number": "number", "boolean": "boolean",
}  # fmt: skip
Schemas = Mapping[str, Mapping[str, ParamSchema]]


def _command_name(alias: Alias) -> str:
    name = re.sub(r"[^a-z0-9_-]+", "-", alias.name.lower()).strip("-")
    return name[:32] or "alias"


def _form(representation: str, schema: Mapping[str, ParamSchema]) -> CommandForm | None:
    literal = _PARAM.sub(" ", representation)
    if not representation.strip() or _REGEX_SYNTAX.search(literal):
        return None
    found = [(m.group(1), m.group(2) is None) for m in _PARAM.finditer(representation)]
    if any(not _OPTION_NAME.match(n) or _kind(schema.get(n)) is None for n, _ in found):
        return None
    params = frozenset(n for n, _ in found)
    return CommandForm(representation, params, frozenset(n for n, required in found if required))


def _kind(schema: ParamSchema | None) -> OptionKind | None:
    return None if schema is None else _KINDS.get(str(schema.get("type") or "string"))


def _option(name: str, required: bool, schema: ParamSchema) -> CommandOption:
    kind = _kind(schema)
    assert kind is not None  # _form only keeps parameters of a simple kind
    enum = list(schema.get("enum") or ())
    choices = tuple(c for c in enum if isinstance(c, str | int | float) and not isinstance(c, bool))
    # Discord: 25 choices, each value and name at most 100 characters; otherwise free text
    # (the schema's enum still checks the value).
    if (
        len(choices) > MAX_CHOICES
        or len(choices) != len(enum)
        or any(len(str(c)) > MAX_CHOICE_TEXT for c in choices)
    ):
        choices = ()
    description = str(schema.get("description") or name)[:100]
    return CommandOption(name, description, kind, required=required, choices=choices)


def _spec(alias: Alias, schema: Mapping[str, ParamSchema]) -> CommandSpec | None:
    forms = [
        form
        for fmt in alias.formats
        if not fmt.match_multiple
        for representation in fmt.representations
        if (form := _form(representation, schema)) is not None
    ]
    if not forms:
        return None
    names = list(
        dict.fromkeys(n for f in forms for n in sorted(f.parameters, key=f.representation.find))
    )
    required = {n for n in names if all(n in f.required for f in forms)}
    if len(names) > MAX_OPTIONS:  # Discord's limit: the alias stays reachable as typed text
        return None
    options = tuple(_option(n, n in required, schema[n]) for n in names)
    # Discord lists required options first.
    options = tuple(sorted(options, key=lambda o: not o.required))
    description = (alias.description or forms[0].representation)[:100]
    return CommandSpec(_command_name(alias), description, alias.ref, options, tuple(forms))


def alias_commands(
    aliases: Iterable[Alias], actions: Mapping[str, Action], schemas: Schemas
) -> list[CommandSpec]:
    """One command per enabled alias with a clean format (load order, at most
    ``MAX_COMMANDS``, names unique). ``schemas`` are the merged parameter schemas by action."""
    specs: dict[str, CommandSpec] = {}
    budget = MAX_COMMAND_TEXT - GROUP_TEXT  # the group of subcommands is one command
    for alias in aliases:
        if not alias.enabled or alias.action_ref not in actions or len(specs) >= MAX_COMMANDS:
            continue
        spec = _spec(alias, schemas.get(alias.action_ref, {}))
        if spec is None or spec.name in specs or text_size(spec) > budget:
            continue
        specs[spec.name] = spec
        budget -= text_size(spec)
    return list(specs.values())


def text_size(spec: CommandSpec) -> int:
    """The characters Discord counts toward a command's 8000: names, descriptions, choices."""
    return (
        len(spec.name)
        + len(spec.description)
        + sum(
            len(o.name) + len(o.description) + sum(2 * len(str(c)) for c in o.choices)
            for o in spec.options
        )
    )


def call_parameters(representation: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """What matching ``representation`` would have extracted: the given values (as text) and
    the format's defaults for optional ones left out."""
    result = {name: str(value) for name, value in values.items() if value is not None}
    for name, default in compile_format(representation).defaults:
        result.setdefault(name, default)
    return result

"""A small typed parser that turns a YAML tree into frozen dataclasses.

The schema is the dataclasses themselves: each field's type hint says how to read its key
(``str``, ``int``, ``float``, ``bool``, ``Path``, ``Literal[...]``, ``X | None``, ``list[X]``,
``tuple[X, ...]``, ``dict[str, X]``, a nested dataclass) and ``Annotated[T, Check(...)]`` adds
validation or normalisation; ``Annotated[T, ParseWith(...)]`` replaces the parsing of a value
whose shape a type hint cannot say (e.g. ``none`` or a mapping). New settings sections are
therefore new dataclasses, not new parsing code.

``${VAR}`` references are expanded on each string scalar as it is parsed (see envsubst), so
errors come out in document order. Every error is collected with its dotted path; nothing stops
at the first one. Missing keys take the field default, and defaults go through the same parser
(so relative default paths resolve against the config folder, and a bad default fails the tests).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import os
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from bot.settings.envsubst import EnvText, expand
from bot.settings.errors import INVALID, SettingsError, describe, item_path, key_path

T = TypeVar("T")

# Field metadata key: the field is filled from the parse Context (e.g. ``base_dir``), not YAML.
FROM_CONTEXT = "squall.settings.from_context"


@dataclass
class Context:
    """What a parse needs besides the YAML: paths' anchor, the environment, the error sink."""

    base_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)
    source: Path | None = None
    label: str = "<defaults>"
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Check:
    """``Annotated`` marker: ``func(value, ctx)`` validates or normalises a parsed value.

    It returns the value to keep, or raises ``ValueError`` whose text becomes the error.
    """

    func: Callable[[Any, Context], object]


@dataclass(frozen=True)
class ParseWith:
    """``Annotated`` marker: ``func(value, ctx)`` parses the raw YAML value itself.

    Strings anywhere inside it have had their ``${VAR}`` references expanded already.
    """

    func: Callable[[Any, Context], object]


def between(low: int | float, high: int | float | None = None) -> Check:
    """A range check; the message names the kind (integer or number) and the bounds."""
    kind = "number" if isinstance(low, float) else "integer"
    wanted = f"{kind} >= {low}" if high is None else f"{kind} from {low} to {high}"

    def check(value: int | float, ctx: Context) -> int | float:
        if value < low or (high is not None and value > high):
            raise ValueError(f"expected {wanted}, got {value}")
        return value

    return Check(check)


def parse_document(cls: type[T], raw: object, ctx: Context) -> T:
    """Parse ``raw`` (a YAML tree) into ``cls``; raises SettingsError listing every error."""
    result = _parse(raw, cls, "", ctx)
    if ctx.errors or result is INVALID:
        raise SettingsError(ctx.errors, ctx.label)
    return result  # type: ignore[no-any-return]


def _parse(value: object, hint: Any, path: str, ctx: Context) -> Any:
    """Parse one value; on failure record ``path: message`` and return INVALID."""
    try:
        if isinstance(value, str) and "${" in value:
            value = expand(value, ctx.env)
        return _dispatch(value, hint, path, ctx)
    except ValueError as exc:
        ctx.errors.append(f"{path or '(top level)'}: {exc}")
        return INVALID


def _dispatch(value: object, hint: Any, path: str, ctx: Context) -> Any:
    origin = get_origin(hint)
    if origin is not None:
        return _BY_ORIGIN[origin](value, hint, path, ctx)
    if dataclasses.is_dataclass(hint):
        return _parse_section(value, hint, path, ctx)
    if hint not in _SCALARS:
        raise TypeError(f"settings schema: unsupported type {hint!r} at {path!r}")
    return _SCALARS[hint](value, ctx)


def _parse_section(value: object, cls: Any, path: str, ctx: Context) -> Any:
    # An empty section (``http:`` with every key commented out) loads as null.
    value = {} if value is None else value
    if not isinstance(value, dict):
        raise ValueError(_expected("mapping", value))
    fields = [f for f in dataclasses.fields(cls) if FROM_CONTEXT not in f.metadata]
    _report_unknown_keys(value, [f.name for f in fields], path, ctx)
    hints = _hints(cls)
    kwargs = {f.name: _field_value(f, hints[f.name], value, path, ctx) for f in fields}
    if any(v is INVALID for v in kwargs.values()):
        return INVALID
    for f in dataclasses.fields(cls):
        if FROM_CONTEXT in f.metadata:
            kwargs[f.name] = getattr(ctx, f.metadata[FROM_CONTEXT])
    return cls(**kwargs)


def _field_value(
    f: dataclasses.Field[Any], hint: Any, section: dict[Any, Any], path: str, ctx: Context
) -> Any:
    sub = key_path(path, f.name)
    if f.name in section:
        return _parse(section[f.name], hint, sub, ctx)
    if dataclasses.is_dataclass(hint):
        return _parse(None, hint, sub, ctx)
    if f.default is not dataclasses.MISSING:
        return _parse(f.default, hint, sub, ctx)
    if f.default_factory is not dataclasses.MISSING:
        return _parse(f.default_factory(), hint, sub, ctx)
    ctx.errors.append(f"{sub}: required key is missing")
    return INVALID


def _report_unknown_keys(
    section: dict[Any, Any], known: list[str], path: str, ctx: Context
) -> None:
    for key in section:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"expected one of {', '.join(known)}"
        ctx.errors.append(f"{key_path(path, key)}: unknown key ({hint})")


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls, include_extras=True)


def _parse_annotated(value: object, hint: Any, path: str, ctx: Context) -> Any:
    base, *extras = get_args(hint)
    custom = [extra for extra in extras if isinstance(extra, ParseWith)]
    if custom:
        result = custom[0].func(_expand_tree(value, ctx), ctx)
    else:
        result = _dispatch(value, base, path, ctx)
    for extra in extras:
        if result is INVALID:
            break
        if isinstance(extra, Check):
            result = extra.func(result, ctx)
    return result


def _parse_optional(value: object, hint: Any, path: str, ctx: Context) -> Any:
    members = [m for m in get_args(hint) if m is not type(None)]
    if len(members) != 1:
        raise TypeError(f"settings schema: only 'X | None' unions are supported at {path!r}")
    return None if value is None else _dispatch(value, members[0], path, ctx)


def _parse_literal(value: object, hint: Any, path: str, ctx: Context) -> Any:
    choices = get_args(hint)
    # Case-insensitive so ``level: debug`` works; the canonical spelling is what gets stored.
    if isinstance(value, str):
        for choice in choices:
            if isinstance(choice, str) and choice.lower() == value.lower():
                return choice
    got = repr(str(value)) if isinstance(value, str) else describe(value)
    raise ValueError(f"expected one of {', '.join(map(str, choices))}, got {got}")


def _parse_sequence(value: object, hint: Any, path: str, ctx: Context) -> Any:
    origin, args = get_origin(hint), get_args(hint)
    if origin is tuple and (len(args) != 2 or args[1] is not Ellipsis):
        raise TypeError(f"settings schema: use tuple[X, ...] at {path!r}")
    if not isinstance(value, list | tuple):
        raise ValueError(_expected("list", value))
    items = [_parse(item, args[0], item_path(path, i), ctx) for i, item in enumerate(value)]
    if any(item is INVALID for item in items):
        return INVALID
    return tuple(items) if origin is tuple else items


def _expand_tree(value: object, ctx: Context) -> object:
    if isinstance(value, str):
        return str(expand(value, ctx.env)) if "${" in value else value
    if isinstance(value, dict):
        return {key: _expand_tree(item, ctx) for key, item in value.items()}
    if isinstance(value, list):
        return [_expand_tree(item, ctx) for item in value]
    return value


def _parse_mapping(value: object, hint: Any, path: str, ctx: Context) -> Any:
    key_hint, value_hint = get_args(hint)
    if key_hint is not str:
        raise TypeError(f"settings schema: only dict[str, X] is supported at {path!r}")
    value = {} if value is None else value
    if not isinstance(value, dict):
        raise ValueError(_expected("mapping", value))
    result: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            ctx.errors.append(f"{key_path(path, str(key))}: keys must be strings")
            result[str(key)] = INVALID
            continue
        result[key] = _parse(item, value_hint, key_path(path, key), ctx)
    if any(item is INVALID for item in result.values()):
        return INVALID
    return result


_BY_ORIGIN: dict[Any, Callable[[object, Any, str, Context], Any]] = {
    Annotated: _parse_annotated,
    Union: _parse_optional,
    types.UnionType: _parse_optional,
    Literal: _parse_literal,
    list: _parse_sequence,
    tuple: _parse_sequence,
    dict: _parse_mapping,
}


def _expected(kind: str, value: object) -> str:
    got = f"{str(value)!r} from the environment" if isinstance(value, EnvText) else describe(value)
    return f"expected {kind}, got {got}"


def _to_str(value: object, ctx: Context) -> str:
    if isinstance(value, str):
        return str(value)  # drops the EnvText marker
    raise ValueError(_expected("string", value))


_ENV_BOOLS = {"true": True, "false": False}


def _to_bool(value: object, ctx: Context) -> bool:
    # YAML 0/1 are integers, not booleans: accepting them would hide a wrong key or a typo.
    if isinstance(value, bool):
        return value
    if isinstance(value, EnvText) and value.strip().lower() in _ENV_BOOLS:
        return _ENV_BOOLS[value.strip().lower()]
    raise ValueError(_expected("boolean", value))


_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+")


def _to_int(value: object, ctx: Context) -> int:
    # bool is a subclass of int in Python; ``port: true`` must still be an error.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, EnvText) and _INTEGER_TEXT.fullmatch(value.strip()):
        return int(value)
    raise ValueError(_expected("integer", value))


def _to_float(value: object, ctx: Context) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, EnvText):
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None:
        raise ValueError(_expected("number", value))
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {number}")
    return number


def _to_path(value: object, ctx: Context) -> Path:
    """``~`` expands; relative paths resolve against the config file's folder, once, here."""
    if not isinstance(value, str | PurePath):
        raise ValueError(_expected("path", value))
    if str(value) == "":
        raise ValueError("expected path, got an empty string")
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    return Path(os.path.normpath(ctx.base_dir / path))


_SCALARS: dict[Any, Callable[[object, Context], object]] = {
    str: _to_str,
    bool: _to_bool,
    int: _to_int,
    float: _to_float,
    Path: _to_path,
}

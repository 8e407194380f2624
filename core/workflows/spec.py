"""Orquesta workflow definitions (st2-format §10.1 to §10.5) as frozen values. Pure: no I/O.

``parse_workflow`` checks the document's shape against a JSON schema (every problem with its
``spec_path``, like Orquesta's ``syntax`` errors), then builds the spec: shorthand forms are
resolved here once — ``with: x in <% … %>`` becomes an items spec, inline parameters in
``action:`` and ``publish:`` strings become mappings, a comma string in ``do`` becomes a list,
and a transition without ``do`` goes to ``continue``.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import jsonschema

__all__ = [
    "ENGINE_COMMANDS",
    "ItemsSpec",
    "RetrySpec",
    "SpecError",
    "TaskSpec",
    "TransitionSpec",
    "WorkflowSpec",
    "parse_inline_params",
    "parse_workflow",
]

# Task names a transition may "do" that are commands to the engine, not tasks.
ENGINE_COMMANDS: Final = ("continue", "fail", "noop", "retry")

_NONEMPTY = {"type": "string", "minLength": 1}
_UINT = {"type": "integer", "minimum": 0}
_ANY: dict[str, Any] = {}
# As Orquesta's ONE_KEY_DICT: the pattern constrains word-like keys only, so a dotted name
# (``vars.key.with.periods``, read back as ``ctx()['vars.key.with.periods']``) is accepted.
_ONE_KEY = {"type": "object", "minProperties": 1, "maxProperties": 1,
            "patternProperties": {r"^\w+$": _ANY}}  # fmt: skip
_ONE_KEY_LIST = {"type": "array", "items": _ONE_KEY, "minItems": 1}
_STR_OR_UINT = {"oneOf": [_NONEMPTY, _UINT]}
_TRANSITION = {
    "type": "object",
    "properties": {
        "when": _NONEMPTY,
        "publish": {"oneOf": [_NONEMPTY, _ONE_KEY_LIST]},
        "do": {"oneOf": [_NONEMPTY, {"type": "array", "items": _NONEMPTY, "minItems": 1,
                                     "uniqueItems": True}]},
    },
    "additionalProperties": False,
}  # fmt: skip
_TASK = {
    "type": "object",
    "properties": {
        "delay": _STR_OR_UINT,
        "join": {"oneOf": [{"enum": ["all"]}, _UINT]},
        "with": {"oneOf": [
            _NONEMPTY,
            {"type": "object", "properties": {"items": _NONEMPTY, "concurrency": _STR_OR_UINT},
             "required": ["items"], "additionalProperties": False},
        ]},
        "action": _NONEMPTY,
        "input": {"oneOf": [_NONEMPTY, {"type": "object", "minProperties": 1}]},
        "retry": {"type": "object", "properties": {"when": _NONEMPTY, "count": _STR_OR_UINT,
                                                   "delay": _STR_OR_UINT},
                  "required": ["count"], "additionalProperties": False},
        "next": {"type": "array", "items": _TRANSITION},
    },
    "additionalProperties": False,
}  # fmt: skip
_SCHEMA = {
    "type": "object",
    "properties": {
        "version": {"anyOf": [{"enum": ["1.0", 1.0, 1]}]},
        "description": {"type": "string"},
        "input": {"type": "array", "items": {"oneOf": [_NONEMPTY, _ONE_KEY]}, "minItems": 1},
        "vars": _ONE_KEY_LIST,
        "output": _ONE_KEY_LIST,
        "tasks": {"type": "object", "minProperties": 1,
                  "patternProperties": {r"^\w+$": _TASK}, "additionalProperties": False},
    },
    "required": ["version", "tasks"],
    "additionalProperties": False,
}  # fmt: skip
_VALIDATOR = jsonschema.Draft7Validator(_SCHEMA)


# -- tasks the schema certainly accepts, checked by hand ------------------------------------
# jsonschema spends ~40 µs on each task (a 1,000-task workflow: 40 ms at every load). A task
# these checks accept is one ``_TASK`` accepts (they are stricter where Draft 7 is lenient:
# 1.0 is not taken for an integer here); every other task is left to the schema, which finds
# and words its errors.
def _text(value: Any) -> bool:
    return isinstance(value, str) and len(value) > 0


def _uint(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _text_or_uint(value: Any) -> bool:
    return _text(value) or _uint(value)


def _fields(value: Any, allowed: frozenset[str], required: str | None = None) -> bool:
    return (
        isinstance(value, dict)
        and all(isinstance(key, str) and key in allowed for key in value)
        and (required is None or required in value)
    )


def _one_key_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(isinstance(i, dict) and len(i) == 1 and isinstance(next(iter(i)), str)
                for i in value)
    )  # fmt: skip


def _plain_transition(value: Any) -> bool:
    if not _fields(value, frozenset(("when", "publish", "do"))):
        return False
    do = value.get("do", "x")
    return (
        ("when" not in value or _text(value["when"]))
        and ("publish" not in value or _text(value["publish"]) or _one_key_list(value["publish"]))
        and (_text(do) or (isinstance(do, list) and len(do) > 0 and all(_text(t) for t in do)
                           and len(set(do)) == len(do)))
    )  # fmt: skip


_CHECKS: Final[dict[str, Any]] = {
    "delay": _text_or_uint,
    "join": lambda v: v == "all" or _uint(v),
    "with": lambda v: _text(v) or (
        _fields(v, frozenset(("items", "concurrency")), "items") and _text(v["items"])
        and ("concurrency" not in v or _text_or_uint(v["concurrency"]))),
    "action": _text,
    "input": lambda v: _text(v) or (isinstance(v, dict) and len(v) > 0),
    "retry": lambda v: _fields(v, frozenset(("when", "count", "delay")), "count")
    and _text_or_uint(v["count"]) and ("when" not in v or _text(v["when"]))
    and ("delay" not in v or _text_or_uint(v["delay"])),
    "next": lambda v: isinstance(v, list) and all(_plain_transition(t) for t in v),
}  # fmt: skip


def _plain_task(value: Any) -> bool:
    return isinstance(value, dict) and all(
        isinstance(key, str) and key in _CHECKS and _CHECKS[key](field)
        for key, field in value.items()
    )


def _schema_errors(document: Mapping[str, Any]) -> list[jsonschema.ValidationError]:
    """The schema's errors in ``document``, tasks the hand checks accept left out (each one
    as ``{}``, which the schema accepts too, so the other errors come out the same)."""
    tasks = document.get("tasks")
    if type(document) is dict and type(tasks) is dict:
        light = {n: {} if _plain_task(t) else t for n, t in tasks.items()}
        document = {**document, "tasks": light}
    return sorted(_VALIDATOR.iter_errors(document), key=lambda e: list(e.absolute_path))


# Inline parameters (§10.5): key=value where the value is quoted, a list, a number, a boolean,
# null or one whole expression; bare words are not parameters (as in Orquesta).
_INLINE_VALUE = "|".join(
    (r"\[.*\]\s*", r"\"[^\"]*\"\s*", r"'[^']*'\s*", r"[-]?\d*\.\d+", r"[-]?\d+",
     r"(?i:true)", r"(?i:false)", r"null", r"{{.*?}}", r"<%.*?%>")
)  # fmt: skip
_INLINE = re.compile(rf"(\w+)=({_INLINE_VALUE})")
_ITEMS_IN = re.compile(r"^\s*((?:\w+\s*,\s*)*\w+)\s+in\s+(.+?)\s*$", re.DOTALL)


@dataclass(frozen=True)
class SpecError:
    """One problem in a workflow definition, where Orquesta's inspection would report it."""

    kind: str  # syntax | semantics | expression | context | content
    message: str
    spec_path: str
    # The expression at fault, for ``expression`` and ``context`` errors (as Orquesta's).
    expression: str | None = None
    # Where in the workflow schema (a syntax error's own; else derived from ``spec_path``).
    schema_path: str | None = None

    def to_st2(self) -> dict[str, Any]:
        """The error as st2 reports a failed inspection in the execution's ``errors``."""
        spec_path = self.spec_path.removeprefix("spec").removeprefix(".")
        entry: dict[str, Any] = {
            "type": "semantic" if self.kind == "semantics" else self.kind,
            "message": self.message,
            "spec_path": spec_path,
            "schema_path": self.schema_path or schema_path_of(spec_path),
        }
        if self.expression is not None:
            entry["expression"] = self.expression
            entry["language"] = "yaql" if "<%" in self.expression else "jinja"
        return entry

    def __str__(self) -> str:
        return f"{self.spec_path}: {self.message}" if self.spec_path else self.message


def schema_path_of(spec_path: str) -> str:
    """``tasks.t1.next[0].when`` → ``properties.tasks.patternProperties.^\\w+$.properties.next
    .items.properties.when``: the path Orquesta's schema gives that place."""
    parts: list[str] = []
    names = re.findall(r"([^.\[\]]+)|\[(\d+)\]", spec_path)
    previous = ""
    for name, index in names:
        if index:
            parts.append("items")
        elif previous in ("tasks", "input") and parts[:1] == ["properties.tasks"]:
            parts.append("patternProperties.^\\w+$")
        else:
            parts.append(f"properties.{name}")
        previous = name or previous
    return ".".join(parts)


@dataclass(frozen=True)
class TransitionSpec:
    when: str | None
    publish: tuple[tuple[str, Any], ...]
    do: tuple[str, ...]


@dataclass(frozen=True)
class ItemsSpec:
    expression: str  # the list expression
    keys: tuple[str, ...]  # names before ``in`` (none: ``item()`` is the element)
    concurrency: int | str | None = None


@dataclass(frozen=True)
class RetrySpec:
    count: int | str
    when: str | None = None
    delay: int | str | None = None


@dataclass(frozen=True)
class TaskSpec:
    name: str
    action: str | None = None
    input: Any = field(default_factory=dict)
    next: tuple[TransitionSpec, ...] = ()
    join: str | int | None = None  # "all" or a count
    items: ItemsSpec | None = None
    retry: RetrySpec | None = None
    delay: int | str | None = None


@dataclass(frozen=True)
class WorkflowSpec:
    tasks: Mapping[str, TaskSpec]
    input: tuple[tuple[str, Any], ...] = ()  # (name, default); a bare name has default None
    vars: tuple[tuple[str, Any], ...] = ()
    output: tuple[tuple[str, Any], ...] = ()
    description: str = ""
    source: Mapping[str, Any] = field(default_factory=dict)

    def task(self, name: str) -> TaskSpec:
        """A task, or a bare spec for an engine command (``continue``, ``noop``, ``fail``)."""
        return self.tasks.get(name) or TaskSpec(name)


def parse_inline_params(text: str) -> list[tuple[str, Any]]:
    """``k=v`` pairs in order; quoted values stay text, the rest is JSON-decoded if it can be."""
    params: list[tuple[str, Any]] = []
    for key, raw in _INLINE.findall(text):
        value: Any = raw.strip()
        quoted = bool(re.match(r'^(".*"|\'.*\')$', value, re.DOTALL))
        value = re.sub('^"|"$', "", value) if value.startswith('"') else value
        value = (
            re.sub("^'|'$", "", value)
            if isinstance(value, str) and value.startswith("'")
            else value
        )
        braced = isinstance(value, str) and value[:1] == "{" and value[-1:] == "}"
        if not quoted or braced:
            text_value = value.lower() if value.lower() in ("true", "false") else value
            with contextlib.suppress(ValueError):
                value = json.loads(text_value)
        params.append((key, value))
    return params


def _pairs(items: Any) -> tuple[tuple[str, Any], ...]:
    """[{name: value}, …] or [name, …] → ((name, value), …)."""
    pairs = []
    for item in items or ():
        if isinstance(item, Mapping):
            [(name, value)] = item.items()
            pairs.append((str(name), value))
        else:
            pairs.append((str(item), None))
    return tuple(pairs)


def _transition(data: Mapping[str, Any]) -> TransitionSpec:
    publish = data.get("publish")
    published = tuple(parse_inline_params(publish)) if isinstance(publish, str) else _pairs(publish)
    do = data.get("do") or "continue"
    names = [n.strip() for n in do.split(",")] if isinstance(do, str) else list(do)
    return TransitionSpec(data.get("when"), published, tuple(n for n in names if n))


def _items(raw: Any) -> ItemsSpec:
    spec = {"items": raw} if isinstance(raw, str) else dict(raw)
    text = str(spec["items"])
    found = _ITEMS_IN.match(text)
    if found and not re.match(r"^\s*(<%|{{)", text):
        keys = tuple(k.strip() for k in found.group(1).split(","))
        return ItemsSpec(found.group(2).strip(), keys, spec.get("concurrency"))
    return ItemsSpec(text.strip(), (), spec.get("concurrency"))


def _task(name: str, data: Mapping[str, Any]) -> TaskSpec:
    action = data.get("action")
    task_input: Any = data.get("input") or {}
    if isinstance(task_input, str):
        task_input = dict(parse_inline_params(task_input))
    # Anything else is a syntax error, already reported; kept as is so inspection sees it.
    if isinstance(action, str):
        inline = parse_inline_params(action)
        if inline:
            action, task_input = action[: action.index(" ")], dict(inline)
    retry = data.get("retry")
    return TaskSpec(
        name=name,
        action=action,
        input=task_input,
        next=tuple(_transition(t) for t in data.get("next") or ()),
        join=data.get("join"),
        items=_items(data["with"]) if data.get("with") is not None else None,
        retry=RetrySpec(retry["count"], retry.get("when"), retry.get("delay")) if retry else None,
        delay=data.get("delay"),
    )


def _schema_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_schema_path)


def _path(error: jsonschema.ValidationError) -> str:
    parts = ["spec"]
    for part in error.absolute_path:
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(parts).replace(".[", "[")


def parse_workflow(
    document: Any, *, lenient: bool = False
) -> tuple[WorkflowSpec | None, list[SpecError]]:
    """The spec and its syntax errors (``spec`` is None when the shape is wrong).

    ``lenient``: still build the spec when syntax errors leave it buildable, so inspection can
    report every other problem too, as Orquesta's does (it never runs such a spec).
    """
    if not isinstance(document, Mapping):
        return None, [SpecError("syntax", "the workflow definition must be a mapping", "spec")]
    errors = [
        SpecError("syntax", error.message, _path(error), None, _schema_path(error))
        for error in _schema_errors(document)
    ]
    if errors and not lenient:
        return None, errors
    try:
        return _build(document), errors
    except (AttributeError, KeyError, TypeError, ValueError, IndexError):
        if not errors:
            raise
        return None, errors


def _build(document: Mapping[str, Any]) -> WorkflowSpec:
    tasks = {
        name: _task(name, data if isinstance(data, Mapping) else {})
        for name, data in document["tasks"].items()
    }
    spec = WorkflowSpec(
        tasks=tasks,
        input=_pairs(document.get("input")),
        vars=_pairs(document.get("vars")),
        output=_pairs(document.get("output")),
        description=str(document.get("description") or ""),
        source=document,
    )
    return spec

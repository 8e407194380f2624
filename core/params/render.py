"""``resolve_parameters``: the one path from caller values to runner/action parameters (§2.3).

Steps: reject unknown and immutable live values → pick each parameter's source (live value or
default; immutable always default) → order templates by dependency → render in the sandbox
with the other parameters and ``st2kv``/``action_context``/``config_context`` → cast to the
declared type → validate with JSON schema.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from jinja2.exceptions import TemplateError, TemplateSyntaxError

from core.models import Action, RunnerType
from core.params.casts import cast_value
from core.params.context import build_context
from core.params.errors import ParameterError
from core.params.graph import topological_order
from core.params.schema import merge_parameter_schemas
from core.params.validate import check_required, validate_value
from core.templates.render import is_template, render_value, value_variables
from core.templates.shellquote import shell_quoted_template

# The runner parameter handed to a shell; values rendered into it are quoted for their place.
SHELL_COMMAND = "cmd"
SHELL_RUNNERS = frozenset({"local-shell-cmd", "local-shell-script"})


@dataclass(frozen=True)
class ResolvedParameters:
    """Final values split like st2: names the runner declares go to ``runner`` (even when the
    action re-declares them), the rest to ``action``. Unset parameters are present as None."""

    runner: dict[str, Any]
    action: dict[str, Any]
    schema: dict[str, dict[str, Any]]

    @property
    def all(self) -> dict[str, Any]:
        """Every parameter in one dict (what templates and the execution record see)."""
        return {**self.action, **self.runner}


@dataclass(frozen=True)
class _Node:
    value: Any
    template: bool
    reads: frozenset[str]


def _check_live(schema: Mapping[str, Mapping[str, Any]], live: Mapping[str, Any]) -> None:
    unknown = sorted(name for name in live if name not in schema)
    if unknown:
        names = ", ".join(repr(n) for n in unknown)
        verb = "was" if len(unknown) == 1 else "were"
        raise ParameterError(
            f"Additional properties are not allowed ({names} {verb} unexpected)",
            param=unknown[0] if len(unknown) == 1 else None,
        )
    immutable = [name for name in live if schema[name].get("immutable")]
    if immutable:
        raise ParameterError(
            f"Override of immutable parameter(s) {immutable} is unsupported.",
            param=immutable[0] if len(immutable) == 1 else None,
        )


def _node(value: Any, renderable: bool) -> _Node:
    if not renderable or not is_template(value):
        return _Node(value, False, frozenset())
    try:
        reads = value_variables(value)
    except TemplateSyntaxError:
        # st2 treats text that merely looks like a template ("{{" typed in chat) as a value.
        return _Node(value, False, frozenset())
    return _Node(value, True, reads)


def _build_nodes(
    schema: Mapping[str, Mapping[str, Any]], live: Mapping[str, Any], render_live: bool
) -> dict[str, _Node]:
    nodes = {}
    for name, param in schema.items():
        value = live.get(name)
        if value is None or param.get("immutable"):
            nodes[name] = _node(param.get("default"), renderable=True)
        else:
            nodes[name] = _node(value, renderable=render_live)
    return nodes


def _check_dependencies(nodes: Mapping[str, _Node], context: Mapping[str, Any]) -> None:
    for name, node in nodes.items():
        for var in sorted(node.reads):
            if var not in nodes and var not in context:
                raise ParameterError(
                    f'Dependency unsatisfied in variable "{var}" (parameter "{name}")',
                    param=name,
                )


def _resolve(
    name: str, node: _Node, param: Mapping[str, Any], context: Mapping[str, Any], shell: bool
) -> Any:
    value = node.value
    if node.template:
        try:
            if shell and isinstance(value, str):
                value = shell_quoted_template(value)
            value = render_value(value, context)
        except (TemplateError, ValueError) as exc:
            raise ParameterError(f'Failed to render parameter "{name}": {exc}', param=name) from exc
    try:
        return cast_value(param, value)
    except ParameterError as exc:
        detail = "value hidden" if param.get("secret") is True else str(exc)
        raise ParameterError(f'Failed to cast parameter "{name}": {detail}', param=name) from exc


def resolve_parameters(
    runner: RunnerType,
    action: Action,
    live: Mapping[str, Any],
    *,
    action_context: Mapping[str, Any] | None = None,
    config_context: Mapping[str, Any] | None = None,
    kv: Mapping[str, Any] | None = None,
    extra_context: Mapping[str, Any] | None = None,
    render_live: bool = True,
) -> ResolvedParameters:
    """Render, cast and validate an execution's parameters; every failure is ``ParameterError``.

    ``kv`` is ``{"system": {key: value}, "user": {key: value}}`` (the user scope already chosen
    for the executing user); a missing key renders as "". Set ``render_live=False`` for values
    typed by chat users or sent by webhooks: they are then data, never templates.
    """
    schema = merge_parameter_schemas(runner, action)
    _check_live(schema, live)
    nodes = _build_nodes(schema, live, render_live)
    context: dict[str, Any] = {}
    order: Iterable[str] = nodes  # no template among them: nothing to order or to render with
    if any(node.template for node in nodes.values()):
        context = {
            k: v
            for k, v in build_context(
                action_context=action_context,
                config_context=config_context,
                kv=kv,
                extra_context=extra_context,
            ).items()
            if k not in schema
        }
        _check_dependencies(nodes, context)
        order = topological_order({name: node.reads for name, node in nodes.items()})
    for name in order:
        # Values enter the context already cast, so later templates see declared types.
        shell = name == SHELL_COMMAND and runner.name in SHELL_RUNNERS
        context[name] = _resolve(name, nodes[name], schema[name], context, shell)
    values = {name: context[name] for name in schema}
    check_required(schema, values)
    for name, value in values.items():
        if value is not None:
            validate_value(name, schema[name], value)
    return ResolvedParameters(
        runner={k: v for k, v in values.items() if k in runner.parameters},
        action={k: v for k, v in values.items() if k not in runner.parameters},
        schema=schema,
    )

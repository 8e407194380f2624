"""Rendering a chain's Jinja the way st2's ``jinja_utils.render_values`` does. Pure.

Each value is rendered on its own: a string as a template; a list or dict as the template of
its JSON text, read back as JSON. A value the template leaves unchanged keeps its type. Unknown
names fail (st2's environment is strict). Results of earlier tasks are data in the context,
never templates themselves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jinja2 import TemplateError

from core.params.context import kv_context
from core.templates.render import render_template
from core.templates.shellquote import shell_quoted_template

RESULTS_KEY = "__results"


class ChainRenderError(ValueError):
    """A value of the chain could not be rendered; the message names it."""


def render_values(
    mapping: Mapping[str, Any], context: Mapping[str, Any], *, shell_key: str | None = None
) -> dict[str, Any]:
    """``shell_key``: the parameter that is a shell command line (``cmd`` of a shell runner);
    values substituted into it are shell-quoted, as everywhere else in Squall (st2 is not)."""
    rendered: dict[str, Any] = {}
    for key, value in mapping.items():
        as_json = isinstance(value, dict | list)
        text = json.dumps(value) if as_json else str(value)
        try:
            source = shell_quoted_template(text) if key == shell_key and not as_json else text
            output = render_template(source, context)
        except (TemplateError, ValueError, TypeError) as exc:
            raise ChainRenderError(key, value, exc) from exc
        if output == text:
            rendered[key] = value
            continue
        rendered[key] = json.loads(output) if as_json else output
    return rendered


def describe(error: ChainRenderError, what: str, node: str) -> str:
    key, value, cause = error.args
    return (
        f'Failed rendering value for {what} "{key}" in task "{node}" (template string={value}): '
        f"{cause}"
    )


def base_context(
    parameters: Mapping[str, Any],
    kv: Mapping[str, Any] | None,
    *,
    action_context: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What every chain template sees: the chain's parameters, ``st2kv`` (and the older
    ``system``), ``action_context`` and ``config_context``."""
    scopes = kv_context(kv)
    context: dict[str, Any] = dict(parameters)
    context["st2kv"] = scopes
    context["system"] = scopes["system"]
    if action_context is not None:
        context["action_context"] = dict(action_context)
    if config is not None:
        context["config_context"] = dict(config)
    return context


def task_context(
    base: Mapping[str, Any],
    results: Mapping[str, Any],
    chain_vars: Mapping[str, Any],
) -> dict[str, Any]:
    """The context of a node's parameters and publish: results by node name, then vars."""
    return {**base, **results, **chain_vars, RESULTS_KEY: dict(results)}

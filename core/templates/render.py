"""The one sandboxed Jinja environment (st2-format §2.3, §10.8; security.md §4.1).

Every template Squall renders (parameter defaults, rule parameters, alias ack/result, notify)
goes through this module. The sandbox itself (limits, guards, ENV) is in
``core/templates/sandbox.py``; this module owns the compiled-template cache and the render API:

* ``ImmutableSandboxedEnvironment`` with ``StrictUndefined``: unknown names fail loudly and
  private/internal attributes, ``str.format`` and the padding methods are refused.
* Size limits: no single value over ``MAX_RESULT_CHARS`` and no render allocating more than
  ``MAX_ALLOC_CHARS`` in total. The repetition, power and ``%`` operators and the amplifying
  filters are checked *before* they allocate; ``~``, ``+``, calls and filters are charged after.
  Loop iterations plus calls are capped at ``MAX_STEPS`` per render, which bounds CPU time to
  about a second; wall time itself is not measured. Callers render only pack-authored or
  authenticated templates, never chat text (``render_live=False``).
* A bounded LRU of compiled templates keyed by the source string.
"""

from __future__ import annotations

import json
import re
import threading
import types
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from jinja2 import Template, Undefined
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError
from jinja2.meta import find_undeclared_variables

from core.templates.filters import NONE_MAGIC_VALUE
from core.templates.sandbox import (
    ENV,
    MAX_ALLOC_CHARS,
    MAX_RESULT_CHARS,
    MAX_SOURCE_CHARS,
    TemplateLimitError,
    TemplateRenderError,
    TemplateUndefinedError,
    bounded_filter,
    charge_value,
    estimate_size,
    run_with_budget,
)

__all__ = [
    "CACHE_SIZE",
    "MAX_ALLOC_CHARS",
    "MAX_RESULT_CHARS",
    "MAX_SOURCE_CHARS",
    "NONE_MAGIC_VALUE",
    "CacheStats",
    "SecurityError",
    "TemplateError",
    "TemplateLimitError",
    "TemplateRenderError",
    "TemplateSyntaxError",
    "TemplateUndefinedError",
    "clear_template_cache",
    "estimate_size",
    "evaluate_expression",
    "is_template",
    "register_filter",
    "render_native",
    "render_template",
    "render_value",
    "template_cache_stats",
    "template_variables",
    "value_variables",
]

CACHE_SIZE = 512


def register_filter(name: str, fn: Callable[..., Any]) -> None:
    """Add a filter (e.g. the datastore's ``decrypt_kv``); its results are size-charged."""
    ENV.filters[name] = bounded_filter(name, fn)
    clear_template_cache()


# --- compiled-template cache --------------------------------------------------------------------


class CacheStats(NamedTuple):
    compiles: int
    hits: int
    size: int


class _Compiled(NamedTuple):
    render: Callable[..., Any]
    variables: frozenset[str]


class _LruCache:
    """LRU of compiled templates; compiling happens outside the lock (duplicates are harmless)."""

    def __init__(self, maxsize: int) -> None:
        self._items: OrderedDict[tuple[str, str], _Compiled] = OrderedDict()
        self._lock = threading.Lock()
        self._maxsize = maxsize
        self.compiles = 0
        self.hits = 0

    def get(self, key: tuple[str, str], build: Callable[[], _Compiled]) -> _Compiled:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return found
        value = build()
        with self._lock:
            self.compiles += 1
            self._items[key] = value
            while len(self._items) > self._maxsize:
                self._items.popitem(last=False)
        return value

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self.compiles, self.hits, len(self._items))

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_CACHE = _LruCache(CACHE_SIZE)


def template_cache_stats() -> CacheStats:
    return _CACHE.stats()


def clear_template_cache() -> None:
    _CACHE.clear()


def _check_source(text: str) -> None:
    if len(text) > MAX_SOURCE_CHARS:
        raise TemplateLimitError(f"template source is over {MAX_SOURCE_CHARS} characters")


def _compile_template(text: str) -> _Compiled:
    _check_source(text)

    def build() -> _Compiled:
        ast = ENV.parse(text)
        variables = frozenset(find_undeclared_variables(ast))
        template: Template = ENV.from_string(ast)
        return _Compiled(template.render, variables)

    return _CACHE.get(("template", text), build)


def _compile_expression(expr: str) -> _Compiled:
    _check_source(expr)

    def build() -> _Compiled:
        variables = _compile_template("{{ " + expr + " }}").variables
        return _Compiled(ENV.compile_expression(expr, undefined_to_none=False), variables)

    return _CACHE.get(("expression", expr), build)


# --- public rendering API -----------------------------------------------------------------------


def is_template(value: object) -> bool:
    """True for a string containing ``{{`` or ``{%`` (st2's test), or a dict/list holding one."""
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, Mapping):
        return any(is_template(k) or is_template(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(is_template(v) for v in value)
    return False


def template_variables(text: str) -> frozenset[str]:
    """Names a template reads from its context (Jinja globals such as ``range`` excluded)."""
    return _compile_template(text).variables


def value_variables(value: object) -> frozenset[str]:
    """``template_variables`` over every template string inside a value (keys included)."""
    if isinstance(value, str):
        return template_variables(value) if is_template(value) else frozenset()
    if isinstance(value, Mapping):
        found = [value_variables(k) | value_variables(v) for k, v in value.items()]
        return frozenset().union(*found)
    if isinstance(value, list | tuple):
        return frozenset().union(*(value_variables(v) for v in value))
    return frozenset()


def render_template(text: str, context: Mapping[str, Any]) -> str:
    """Render ``text`` in the sandbox; raises a ``jinja2.TemplateError`` subclass on failure."""
    compiled = _compile_template(text)
    result: str = run_with_budget(lambda: compiled.render(context))
    return result


_WHOLE_EXPRESSION = re.compile(r"\{\{(?P<expr>(?:(?!\{\{|\}\}|\{%|%\}|\{#).)*)\}\}", re.DOTALL)


def _native_result(value: Any) -> Any:
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises here, naming the variable
    if isinstance(value, types.GeneratorType | map | filter):
        value = list(value)
    charge_value(value, "expression result")
    return value


def evaluate_expression(expr: str, context: Mapping[str, Any]) -> Any:
    """The native value of one Jinja expression (no delimiters) in the sandbox."""
    compiled = _compile_expression(expr.strip())
    return run_with_budget(lambda: _native_result(compiled.render(**context)))


def render_native(text: str, context: Mapping[str, Any]) -> Any:
    """Render keeping the Python type when ``text`` is one whole ``{{ expression }}``.

    ``"{{ items }}"`` yields the list itself; anything else (surrounding text, several
    expressions, statements) renders to a string like ``render_template``.
    """
    match = _WHOLE_EXPRESSION.fullmatch(text.strip())
    if match is None:
        return render_template(text, context)
    compiled = _compile_expression(match["expr"].strip())
    return run_with_budget(lambda: _native_result(compiled.render(**context)))


# st2 (§2.3 step 3) preserves the type of list/dict elements written exactly as "{{var}}".
_WHOLE_VARIABLE = re.compile(r"\{\{\s*\w+\s*\}\}")


def _render_element(value: Any, context: Mapping[str, Any]) -> Any:
    if isinstance(value, str) and _WHOLE_VARIABLE.fullmatch(value):
        native = render_native(value, context)
        # st2 round-trips these through JSON (to_complex); do the same so the value is plain data.
        return json.loads(json.dumps(native, default=str))
    return render_value(value, context)


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render a parameter value: strings render to strings; dicts/lists element by element.

    Unlike st2 (which renders the JSON text of the whole structure) each string is rendered on
    its own, so a context value containing quotes cannot break or inject JSON structure.
    """
    if isinstance(value, str):
        return render_template(value, context) if is_template(value) else value
    if isinstance(value, Mapping):
        return {render_value(k, context): _render_element(v, context) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_render_element(v, context) for v in value]
    return value

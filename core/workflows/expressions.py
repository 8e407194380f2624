"""Workflow expressions: Jinja ``{{ }}`` (the one sandboxed environment) and YAQL ``<% %>``.

A ``Scope`` is one evaluation scope — a task's context, its current result and item, and a view
of the workflow state for ``task_status()`` — and evaluates any number of statements in it. The
YAQL context is built once per scope, not per expression (building a YAQL root context costs
~20 ms; a child context with the data converted once is all an evaluation needs), and parsed
YAQL expressions are cached. Statements are evaluated recursively through dicts (keys too) and
lists; a string that is exactly one expression keeps the expression's type, anything else is
text with each expression substituted.

Unlike Orquesta, a string an expression returns is never evaluated again: a task result or an
input that contains ``{{ … }}`` is data (security.md §0 rule 1). Pure: no I/O; the datastore
arrives as a mapping (``kv``).
"""

from __future__ import annotations

import collections.abc  # noqa: F401  (yaql 3.2 uses collections.abc without importing it)
import functools
import inspect
import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from jinja2 import TemplateSyntaxError

from core.kv.decrypted import record_decryption
from core.templates.filters import ST2_FILTERS
from core.templates.render import TemplateError, evaluate_expression, render_template
from core.templates.sandbox import ENV
from core.workflows.reads import NOT_READ, plain_read, read_value
from core.workflows.values import NOT_JSON, not_json_kind, plain, storable

__all__ = [
    "NOT_JSON",
    "ExpressionError",
    "Scope",
    "StateView",
    "extract_ctx_vars",
    "has_expressions",
    "not_json_kind",
    "validate",
]

_JINJA_EXPR: Final = re.compile(r"{{.*?}}")
_JINJA_BLOCK: Final = re.compile(r"{%.*?%}")
_YAQL_EXPR: Final = re.compile(r"<%.*?%>")
_CTX_REF: Final = r"[][a-zA-Z0-9_'\"\.()]*"
_CTX_PATTERN: Final = re.compile(rf"\bctx\(['\"]?{_CTX_REF}['\"]?\)\.?{_CTX_REF}")
_VAR: Final = r"[a-zA-Z0-9_-]+"
_VAR_EXTRACTS: Final = (
    re.compile(rf"(?<=\bctx\(\)\.)({_VAR})\b(?!\()\.?"),
    re.compile(rf"(?:\bctx\(({_VAR})\))"),
    re.compile(rf"(?:\bctx\('({_VAR})'\))"),
    re.compile(rf'(?:\bctx\("({_VAR})"\))'),
)
_UNSET: Final = object()
_YAQL_LOCK: Final = threading.Lock()


class ExpressionError(ValueError):
    """An expression that cannot be evaluated; the message names it, as Orquesta's do."""


class VariableUndefinedError(ExpressionError):
    """``ctx()`` of a variable nothing assigned (Orquesta's ``VariableUndefinedError``)."""


class YaqlEvaluationError(ExpressionError):
    """A YAQL expression failed (Orquesta's ``YaqlEvaluationException``)."""


class JinjaEvaluationError(ExpressionError):
    """A Jinja expression failed (Orquesta's ``JinjaEvaluationException``)."""


class StateView(Protocol):
    """What the workflow functions read from the conductor's state."""

    def task_status(self, task_id: str, route: int) -> str: ...

    def task_record(self, task_id: str, route: int) -> Mapping[str, Any] | None: ...


@dataclass(frozen=True)
class CurrentTask:
    id: str
    route: int
    result: Any = _UNSET


def has_expressions(text: str) -> bool:
    return bool(_JINJA_EXPR.search(text) or _JINJA_BLOCK.search(text) or _YAQL_EXPR.search(text))


def _strip(expr: str, size: int = 2) -> str:
    return expr[size:-size].strip()


# -- validation and variable extraction (inspection) -----------------------------------------
def validate(statement: Any) -> list[str]:
    """Messages for every expression in ``statement`` that does not parse."""
    if isinstance(statement, Mapping):
        return [m for k, v in statement.items() for m in (*validate(k), *validate(v))]
    if isinstance(statement, list | tuple):
        return [m for item in statement for m in validate(item)]
    if not isinstance(statement, str):
        return []
    jinja = bool(_JINJA_EXPR.search(statement) or _JINJA_BLOCK.search(statement))
    yql = bool(_YAQL_EXPR.search(statement))
    if jinja and yql:
        return [f"Expression with multiple types is not supported: {statement!r}"]
    if jinja:
        try:
            ENV.parse(statement)
        except TemplateSyntaxError as exc:
            return [f"Parse error in {statement!r}: {exc.message}"]
    if yql:
        errors = []
        for expr in _YAQL_EXPR.findall(statement):
            try:
                _yaql(_strip(expr))
            except (_yaql_exception(), ValueError, TypeError) as exc:
                message = str(exc)  # yaql names the expression itself, as Orquesta reports it
                errors.append(
                    message if "expression" in message else f"Parse error in {expr!r}: {exc}"
                )
        return errors
    return []


def extract_ctx_vars(statement: Any) -> set[str]:
    """Names read with ``ctx(name)`` / ``ctx().name`` anywhere in ``statement``."""
    if isinstance(statement, Mapping):
        return set().union(
            *(extract_ctx_vars(k) | extract_ctx_vars(v) for k, v in statement.items())
        )
    if isinstance(statement, list | tuple):
        return set().union(*(extract_ctx_vars(item) for item in statement))
    if not isinstance(statement, str):
        return set()
    names: set[str] = set()
    for expr in (*_JINJA_EXPR.findall(statement), *_YAQL_EXPR.findall(statement)):
        for reference in _CTX_PATTERN.findall(_strip(expr)):
            for extract in _VAR_EXTRACTS:
                found = extract.search(reference.strip())
                if found:
                    names.add(found.group(1))
                    break
    return names


@functools.lru_cache(maxsize=4096)
def _yaql(expr: str) -> Any:
    with _YAQL_LOCK:  # the yaql parser (ply) is not thread-safe
        return _yaql_engine()(expr)


@functools.cache
def _yaql_engine() -> Any:
    """yaql's parser, built at the first expression (building its tables takes ~0.2 s, which
    every ``squall`` command would otherwise pay at import); called under ``_YAQL_LOCK``.
    yaql itself is imported here too: with pbr and dateutil it holds ~1.5 MB, which a process
    whose content has no YAQL expression never needs (tests/unit/test_startup_imports.py)."""
    from yaql.language.factory import YaqlFactory

    return YaqlFactory().create()


@functools.cache
def _yaql_exception() -> type[Exception]:
    """yaql's base exception; only an ``except`` clause that already caught something asks."""
    from yaql.language.exceptions import YaqlException

    base: type[Exception] = YaqlException
    return base


@functools.lru_cache(maxsize=4096)
def _plain_read(expr: str) -> tuple[str, str | None] | None:
    try:
        return plain_read(_yaql(expr).expression)
    except Exception:  # does not parse: yaql reports it when evaluating
        return None


# -- the functions --------------------------------------------------------------------------
def _ctx(scope: Scope, key: str | None = None) -> Any:
    if key:
        if key.startswith("__"):
            raise ExpressionError(f'The variable "{key}" is for internal use and inaccessible.')
        if key not in scope.data:
            raise VariableUndefinedError(f'The variable "{key}" is referenced before assignment.')
        return scope.data[key]
    return {k: v for k, v in scope.data.items() if not str(k).startswith("__")}


def _current(scope: Scope) -> CurrentTask:
    if scope.task is None:
        raise ExpressionError("The current task is not set in the context.")
    return scope.task


def _status_of(scope: Scope, task_id: str, route: int | None = None) -> str:
    if scope.view is None:
        return "null"
    if route is None:
        route = scope.task.route if scope.task is not None else 0
    return scope.view.task_status(task_id, route)


def _succeeded(scope: Scope) -> bool:
    task = _current(scope)
    return _status_of(scope, task.id, task.route) == "succeeded"


def _failed(scope: Scope) -> bool:
    task = _current(scope)
    return _status_of(scope, task.id, task.route) == "failed"


def _completed(scope: Scope) -> bool:
    task = _current(scope)
    status = _status_of(scope, task.id, task.route)
    return status in ("succeeded", "failed", "timeout", "abandoned", "canceled")


def _result(scope: Scope) -> Any:
    task = _current(scope)
    return None if task.result is _UNSET else task.result


def _item(scope: Scope, key: str | None = None) -> Any:
    if scope.item is _UNSET:
        raise ExpressionError("The current item is not set in the context.")
    if not key:
        return scope.item
    if not isinstance(scope.item, Mapping):
        raise ExpressionError("Item is not type of collections.Mapping.")
    if key not in scope.item:
        raise ExpressionError(f'Item does not have key "{key}".')
    return scope.item[key]


def _zip(*lists: Any, pad: Any = None) -> Any:
    columns = [[] if column is None else list(column) for column in lists]
    if len(columns) == 1:
        return columns[0]
    longest = max((len(c) for c in columns), default=0)
    return [tuple(c[i] if i < len(c) else pad for c in columns) for i in range(longest)]


def _json(value: Any) -> Any:
    if isinstance(value, Mapping):
        return value
    if not isinstance(value, str):
        raise ExpressionError("Given object is not typeof string.")
    return json.loads(value)


_MISSING_DEFAULT: Final = object()


def _st2kv(scope: Scope, key: str, decrypt: bool = False, default: Any = _MISSING_DEFAULT) -> Any:
    """``st2kv('system.key')`` (system scope) or ``st2kv('key')`` (the user's scope)."""
    scope_name, name = (
        ("system", key[len("system.") :]) if key.startswith("system.") else ("user", key)
    )
    found = ((scope.kv or {}).get(scope_name) or {}).get(name, _MISSING_DEFAULT)
    if found is _MISSING_DEFAULT:
        if default is _MISSING_DEFAULT:
            raise ExpressionError(f'The key "{name}" does not exist in the StackStorm datastore.')
        return default
    if decrypt and hasattr(found, "plaintext"):
        plaintext = found.plaintext()
        if getattr(found, "encrypted", False):  # the workflow's state and children mask it
            record_decryption(plaintext)
        return plaintext
    return str(found)


def _task(scope: Scope, task_id: str | None = None, route: int | None = None) -> Any:
    if task_id is None:
        task_id = _current(scope).id
    if route is None:
        route = scope.task.route if scope.task is not None else 0
    record = scope.view.task_record(task_id, route) if scope.view is not None else None
    if record is None:
        raise ExpressionError(f'Unable to find task execution for "{task_id}".')
    return dict(record)


def _task_status(scope: Scope, task_id: str, route: int | None = None) -> str:
    return _status_of(scope, task_id, route)


_SCOPED: Final[Mapping[str, Callable[..., Any]]] = {
    "ctx": _ctx, "succeeded": _succeeded, "failed": _failed, "completed": _completed,
    "result": _result, "item": _item, "task_status": _task_status, "st2kv": _st2kv,
    "task": _task,
}  # fmt: skip
_PLAIN: Final[Mapping[str, Callable[..., Any]]] = {
    "zip": _zip, "json": _json,
    "json_parse": ST2_FILTERS["from_json_string"], "json_dump": ST2_FILTERS["to_json_string"],
    "yaml_parse": ST2_FILTERS["from_yaml_string"], "yaml_dump": ST2_FILTERS["to_yaml_string"],
    **{name: fn for name, fn in ST2_FILTERS.items() if name != "to_complex"},
}  # fmt: skip


@functools.cache
def _yaql_root() -> Any:
    """The root context with the workflow functions, built at the first evaluation."""
    import yaql

    root = yaql.create_context()

    def scoped(fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(context: Any, *args: Any, **kwargs: Any) -> Any:
            return fn(context["__scope"], *args, **kwargs)

        return call

    for name, fn in _SCOPED.items():
        root.register_function(_with_signature(scoped(fn), fn, scoped=True), name=name)
    for name, fn in _PLAIN.items():
        root.register_function(fn, name=name)
    return root


def _with_signature(
    wrapper: Callable[..., Any], fn: Callable[..., Any], *, scoped: bool
) -> Callable[..., Any]:
    """yaql reads a function's signature to bind arguments: give the wrapper ``fn``'s own,
    with ``context`` in place of the scope."""
    parameters = list(inspect.signature(fn).parameters.values())[1:] if scoped else []
    context = inspect.Parameter("context", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    wrapper.__signature__ = inspect.Signature([context, *parameters])  # type: ignore[attr-defined]
    wrapper.__name__ = fn.__name__.strip("_")
    return wrapper


# The transition conditions nearly every workflow has, as a whole expression: called directly
# (the same function and the same bool either engine would return, ~100x cheaper than
# resolving the call through yaql); any error is left to the engine to word.
_STATUS_TESTS: Final[Mapping[str, Callable[[Scope], bool]]] = {
    "succeeded()": _succeeded, "failed()": _failed, "completed()": _completed,
}  # fmt: skip


# -- evaluation -----------------------------------------------------------------------------
class Scope:
    """One evaluation scope; cheap to create, caches its YAQL and Jinja contexts."""

    def __init__(
        self,
        data: Mapping[str, Any],
        *,
        task: CurrentTask | None = None,
        item: Any = _UNSET,
        view: StateView | None = None,
        kv: Mapping[str, Any] | None = None,
    ) -> None:
        self.data = data
        self.task = task
        self.item = item
        self.view = view
        self.kv = kv
        self._yaql_context: Any = None
        self._jinja_context: dict[str, Any] | None = None
        self._check_storable = True

    def with_item(self, item: Any) -> Scope:
        return Scope(self.data, task=self.task, item=item, view=self.view, kv=self.kv)

    def evaluate_input(self, statement: Any) -> Any:
        """Evaluate an action's input: a value that is not JSON data is left for the engine,
        which fails that task (not the workflow) when it cannot request the action."""
        self._check_storable = False
        try:
            return self.evaluate(statement)
        finally:
            self._check_storable = True

    def evaluate(self, statement: Any) -> Any:
        if isinstance(statement, Mapping):
            return {self.evaluate(k): self.evaluate(v) for k, v in statement.items()}
        if isinstance(statement, list | tuple):
            return [self.evaluate(item) for item in statement]
        if not isinstance(statement, str):
            return statement
        if _YAQL_EXPR.search(statement):
            return self._substitute(statement, _YAQL_EXPR.findall(statement), self._yaql_value)
        if _JINJA_BLOCK.search(statement):
            return self._jinja_blocks(statement)
        if _JINJA_EXPR.search(statement):
            return self._substitute(statement, _JINJA_EXPR.findall(statement), self._jinja_value)
        return statement

    def _substitute(self, text: str, exprs: list[str], value_of: Callable[[str], Any]) -> Any:
        if len(exprs) == 1 and exprs[0] == text:
            return value_of(exprs[0])
        output = text
        for expr in exprs:
            output = output.replace(expr, str(value_of(expr)))
        return output

    # YAQL
    def _yaql_value(self, expr: str) -> Any:
        body = _strip(expr)
        quick = self._quick_yaql(body)
        if quick is not NOT_READ:
            return quick
        if self._yaql_context is None:
            self._yaql_context = _yaql_root().create_child_context()
            self._yaql_context["__scope"] = self
        if "__vars" in body and "__vars" not in self._yaql_context:
            # Orquesta's converted copy of the context: only ``$__vars`` reads it, and
            # converting a large context (a 5,000-item list) costs ms per evaluation.
            from yaql.language.utils import convert_input_data

            self._yaql_context["__vars"] = convert_input_data(dict(self.data))
        try:
            result = _yaql(body).evaluate(context=self._yaql_context)
        except ExpressionError as exc:
            raise YaqlEvaluationError(
                f"Unable to evaluate expression '{expr}'. {orquesta_name(exc)}: {exc}"
            ) from None
        except KeyError as exc:
            key = str(exc).strip("'\"")
            raise YaqlEvaluationError(
                f"Unable to resolve key '{key}' in expression '{expr}' from context."
            ) from None
        except Exception as exc:
            message = str(exc).strip("'")
            raise YaqlEvaluationError(
                f"Unable to evaluate expression '{expr}'. {type(exc).__name__}: {message}"
            ) from None
        value = plain(result)
        return storable(expr, value, YaqlEvaluationError) if self._check_storable else value

    def _quick_yaql(self, body: str) -> Any:
        """A status test or a plain read (reads.py) answered without yaql; ``NOT_READ`` for
        anything else, or when it fails: yaql then evaluates it and words the error."""
        status_test = _STATUS_TESTS.get(body)
        if status_test is not None:
            try:
                return status_test(self)
            except ExpressionError:
                return NOT_READ
        read = _plain_read(body)
        if read is None:
            return NOT_READ
        function, key = read
        if function == "ctx":
            return read_value(self.data, key)
        if function == "result":
            if self.task is None:
                return NOT_READ
            return read_value(None if self.task.result is _UNSET else self.task.result, key)
        return NOT_READ if self.item is _UNSET else read_value(self.item, key)

    # Jinja
    def _jinja(self) -> dict[str, Any]:
        if self._jinja_context is None:
            context: dict[str, Any] = {
                name: functools.partial(fn, self) for name, fn in _SCOPED.items()
            }
            context.update(_PLAIN)
            self._jinja_context = context
        return self._jinja_context

    def _jinja_value(self, expr: str) -> Any:
        status_test = _STATUS_TESTS.get(_strip(expr))
        if status_test is not None:
            try:
                return status_test(self)
            except ExpressionError:
                pass  # evaluated below, so that the error reads as Jinja's would
        try:
            value = evaluate_expression(_strip(expr), self._jinja())
        except ExpressionError as exc:
            raise JinjaEvaluationError(
                f"Unable to evaluate expression '{expr}'. {orquesta_name(exc)}: {exc}"
            ) from None
        except (TemplateError, Exception) as exc:
            cause = exc.__cause__
            if isinstance(cause, ExpressionError):  # a workflow function's own error
                raise JinjaEvaluationError(
                    f"Unable to evaluate expression '{expr}'. {orquesta_name(cause)}: {cause}"
                ) from None
            raise JinjaEvaluationError(
                f"Unable to evaluate expression '{expr}'. {type(exc).__name__}: {exc}"
            ) from None
        return storable(expr, value, JinjaEvaluationError) if self._check_storable else value

    def _jinja_blocks(self, text: str) -> str:
        try:
            return render_template(text, self._jinja())
        except (TemplateError, Exception) as exc:
            raise JinjaEvaluationError(
                f"Unable to evaluate expression '{text}'. {type(exc).__name__}: {exc}"
            ) from None


def orquesta_name(error: ExpressionError) -> str:
    """The name Orquesta's exception for ``error`` has (st2 puts it in error messages)."""
    return {
        "VariableUndefinedError": "VariableUndefinedError",
        "YaqlEvaluationError": "YaqlEvaluationException",
        "JinjaEvaluationError": "JinjaEvaluationException",
    }.get(type(error).__name__, "ExpressionEvaluationException")

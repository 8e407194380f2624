"""Which YAQL expressions are plain reads of the workflow's data: ``ctx(name)``,
``ctx('name')``, ``ctx().name``, ``result()``, ``result().name``, ``item()``, ``item(name)``
and ``item().name``, recognised on yaql's own parse of the expression, so that the scope can
answer them without running yaql (~100 µs each through yaql's function resolution). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from core.workflows.values import not_json_kind, plain

__all__ = ["NOT_READ", "plain_read", "read_value"]

NOT_READ: Final = object()  # a read these shortcuts leave to yaql

_READERS: Final = ("ctx", "result", "item")


def plain_read(expression: Any) -> tuple[str, str | None] | None:
    """(function, key) for a parsed expression that only reads ``function()`` or one key of
    it (key None: the whole value), else None. Called on a parse, so yaql is loaded already
    (it is imported when first needed: core/workflows/expressions.py); callers cache it."""
    from yaql.language import expressions as yaql_ast

    if type(expression) is yaql_ast.Function:
        if expression.name in ("ctx", "item") and len(expression.args) == 1:
            key = _text(expression.args[0])
            return None if key is None else (expression.name, key)
        if expression.name in ("result", "item") and not expression.args:
            return expression.name, None
        return None
    if type(expression) is yaql_ast.BinaryOperator and expression.name == "#operator_.":
        receiver, name = expression.args
        if (
            type(receiver) is yaql_ast.Function
            and receiver.name in _READERS
            and not receiver.args
            and type(name) is yaql_ast.KeywordConstant
        ):
            key = _text(name)
            return None if key is None else (receiver.name, key)
    return None


def _text(node: Any) -> str | None:
    """A constant's text (``name`` or ``'name'``); not ``null``, ``true``, numbers or ``$x``."""
    from yaql.language import expressions as yaql_ast

    if type(node) in (yaql_ast.Constant, yaql_ast.KeywordConstant) and isinstance(node.value, str):
        return node.value or None
    return None


def read_value(whole: Any, key: str | None) -> Any:
    """What yaql gives for the read of ``key`` in ``whole`` (the function's value; None: all
    of it), as plain JSON data; ``NOT_READ`` when that is not certain — the key is missing or
    internal, ``whole`` is no mapping, or the value is not JSON data (which yaql converts) —
    so that yaql evaluates it and words any error."""
    if key is not None:
        if not isinstance(whole, Mapping) or key.startswith("__") or key not in whole:
            return NOT_READ
        whole = whole[key]
    if not_json_kind(whole) is not None:
        return NOT_READ
    return plain(whole)

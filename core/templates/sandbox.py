"""The sandbox behind core/templates/render.py: resource limits, guarded operators and filters, ENV.

One ``ImmutableSandboxedEnvironment`` with ``StrictUndefined``; private attributes,
``str.format`` and the padding methods are refused; allocations and steps are charged against a
per-render budget (see ``run_with_budget``), so a template cannot exhaust memory or CPU.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import wraps
from typing import Any

from jinja2 import StrictUndefined, nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import (
    SecurityError,
    TemplateError,
    TemplateRuntimeError,
    UndefinedError,
)
from jinja2.runtime import Context, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing

from core.templates.filters import ST2_FILTERS
from core.templates.shellquote import SHELL_FILTERS

MAX_SOURCE_CHARS = 1 << 20
MAX_RESULT_CHARS = 4 << 20
MAX_ALLOC_CHARS = 16 << 20
# Widths, counts and indents given to padding filters and %-formats.
MAX_WIDTH = 10_000
# Loop iterations plus calls per render: bounds CPU where no allocation happens
# (nested loops with an empty body, macros that recurse twice per level).
MAX_STEPS = 100_000
MACRO_CALL_COST = 20
# Ints beyond this are only useful for exhausting the CPU (and cannot be printed anyway).
MAX_INT_BITS = 1 << 16


class TemplateUndefinedError(UndefinedError):
    """A template used a variable or attribute that does not exist."""


class TemplateLimitError(SecurityError):
    """A template tried to produce more data than Squall allows."""


class TemplateRenderError(TemplateRuntimeError):
    """A filter or operation raised while rendering; wraps the original exception."""


class _Undefined(StrictUndefined):
    """StrictUndefined raising our subclass, so callers can tell "undefined" from other errors."""

    __slots__ = ()

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: type[TemplateRuntimeError] = UndefinedError,
    ) -> None:
        # The sandbox passes exc=SecurityError for unsafe attributes: keep that one.
        super().__init__(hint, obj, name, TemplateUndefinedError if exc is UndefinedError else exc)


# --- resource accounting ------------------------------------------------------------------------


@dataclass
class _Budget:
    used: int = 0
    steps: int = 0


_BUDGET: ContextVar[_Budget | None] = ContextVar("squall_template_budget", default=None)


def estimate_size(value: Any, limit: int = MAX_RESULT_CHARS) -> int:
    """Roughly ``len(str(value))`` without building it; stops counting once past ``limit``."""
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item) + 2
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            stack.extend(item)
        else:
            total += 8
    return total


def _ensure_within(size: int, what: str) -> None:
    if size > MAX_RESULT_CHARS:
        raise TemplateLimitError(
            f"{what} would produce about {size} characters; the limit is {MAX_RESULT_CHARS}"
        )
    budget = _BUDGET.get()
    if budget is not None and budget.used + size > MAX_ALLOC_CHARS:
        raise TemplateLimitError(f"template rendering exceeded {MAX_ALLOC_CHARS} characters")


def _charge(size: int, what: str) -> None:
    _ensure_within(size, what)
    budget = _BUDGET.get()
    if budget is not None:
        budget.used += size


def charge_value(value: Any, what: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool):
        _check_int_bits(value.bit_length(), what)
    elif isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        _charge(estimate_size(value), what)


def _step(cost: int = 1) -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.steps += cost
        if budget.steps > MAX_STEPS:
            raise TemplateLimitError(
                f"template rendering exceeded {MAX_STEPS} loop iterations and calls"
            )


@pass_context
def _loop_guard(context: Context, iterable: Any) -> Iterator[Any]:
    """Wraps every ``{% for %}`` iterable: each iteration costs one step of the budget."""
    for item in iterable:
        _step()
        yield item


def _check_int_bits(bits: int, what: str) -> None:
    if bits > MAX_INT_BITS:
        raise TemplateLimitError(f"{what} would produce an integer over {MAX_INT_BITS} bits")


# --- pre-checks for operations that amplify their input -----------------------------------------

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


def _check_width(value: Any, what: str) -> None:
    if isinstance(value, int) and value > MAX_WIDTH:
        raise TemplateLimitError(f"{what}: {value} is over the limit of {MAX_WIDTH}")


def _check_percent_format(fmt: str) -> None:
    for match in _PERCENT_SPEC.finditer(fmt):
        for part in match.groups():
            if part == "*" or (part and (len(part) > 5 or int(part) > MAX_WIDTH)):
                raise TemplateLimitError(f"%-format width or precision over {MAX_WIDTH}")


def _check_replace(text: str, old: Any, new: Any, count: Any = -1) -> None:
    if not isinstance(old, str) or not isinstance(new, str):
        return
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    _ensure_within(len(text) + hits * max(len(new) - len(old), 0), "replace")


def _check_join(items: list[Any], sep: Any) -> None:
    sep_len = len(sep) if isinstance(sep, str) else 0
    size = sum(estimate_size(i) for i in items) + sep_len * max(len(items) - 1, 0)
    _ensure_within(size, "join")


def _precheck_binop(op: str, left: Any, right: Any) -> None:
    if op == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, str | bytes | list | tuple) and isinstance(times, int):
                unit = len(seq) if isinstance(seq, str | bytes) else estimate_size(seq)
                _ensure_within(unit * max(times, 0), "the '*' operator")
        if isinstance(left, int) and isinstance(right, int):
            _check_int_bits(left.bit_length() + right.bit_length(), "the '*' operator")
    elif op == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
        _check_int_bits(max(left.bit_length() - 1, 0) * right, "the '**' operator")
    elif op == "%" and isinstance(left, str):
        _check_percent_format(left)


def _precheck_call(obj: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Check the str methods that multiply their input; returns args (join's input listed)."""
    if not isinstance(obj, types.BuiltinMethodType) or not isinstance(obj.__self__, str):
        return args
    if obj.__name__ == "replace" and len(args) >= 2:
        _check_replace(obj.__self__, *args[:3])
    elif obj.__name__ == "join" and args:
        items = list(args[0])
        _check_join(items, obj.__self__)
        return (items, *args[1:])
    return args


# --- the environment ----------------------------------------------------------------------------

# Padding methods amplify a tiny template into gigabytes; format/format_map reach attributes
# through replacement fields (the CVE family in security.md §4.1); translate maps chars to
# arbitrary strings.
_DENIED_ATTRS = frozenset(
    {"format", "format_map", "mro", "center", "ljust", "rjust", "zfill", "expandtabs"}
    | {"translate", "maketrans"}
)


_LOOP_GUARD = "squall_loop_guard"


class _BoundedCodeGenerator(CodeGenerator):
    """Compiles ``a ~ b`` through a size-checked join instead of Jinja's plain ``str_join``,
    and every ``{% for %}`` iterable through ``_loop_guard``."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        # Wrap before the base class collects the filters the template uses.
        for loop in node.find_all(nodes.For):
            if not (isinstance(loop.iter, nodes.Filter) and loop.iter.name == _LOOP_GUARD):
                # pass_context on the guard keeps Jinja from constant-folding it.
                loop.iter = nodes.Filter(
                    loop.iter, _LOOP_GUARD, [], [], None, None, lineno=loop.iter.lineno
                )
        super().visit_Template(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _SquallEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"+", "*", "**", "%"})
    code_generator_class = _BoundedCodeGenerator

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr in _DENIED_ATTRS or attr.startswith("gi_"):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> None:
        # Jinja would hand out a sandboxed str.format; we refuse format outright (see above).
        return None

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _precheck_binop(operator, left, right)
        result = super().call_binop(context, operator, left, right)
        charge_value(result, f"the {operator!r} operator")
        return result

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        # A macro call runs a whole template body (~20x a loop step); weigh it accordingly.
        _step(MACRO_CALL_COST if isinstance(obj, Macro) else 1)
        args = _precheck_call(obj, args)
        result = super().call(context, obj, *args, **kwargs)
        charge_value(result, "a call")
        return result

    @staticmethod
    def bounded_concat(parts: Iterable[Any]) -> str:
        texts = []
        for part in parts:
            if not isinstance(part, str):
                _ensure_within(estimate_size(part), "the '~' operator")
            texts.append(part if isinstance(part, str) else str(part))
        _charge(sum(map(len, texts)), "the '~' operator")
        return "".join(texts)

    @staticmethod
    def concat(parts: Iterable[str]) -> str:
        # Used for the whole output, {% set %} blocks, macros and call blocks.
        texts = list(parts)
        _charge(sum(map(len, texts)), "template output")
        return "".join(texts)


def bounded_filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """Charge a filter's result; ``wraps`` keeps Jinja's pass_context/eval_context marker."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = fn(*args, **kwargs)
        charge_value(result, f"filter {name!r}")
        return result

    return wrapper


def _guard_builtin_filters(filters: dict[str, Callable[..., Any]]) -> None:
    """Pre-checks for Jinja's own filters whose arguments multiply their output."""
    center, indent, batch, slice_ = (filters[n] for n in ("center", "indent", "batch", "slice"))
    fmt, replace, join, tojson = (filters[n] for n in ("format", "replace", "join", "tojson"))

    def do_center(value: Any, width: int = 80) -> Any:
        _check_width(width, "center width")
        return center(value, width)

    def do_indent(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> Any:
        pad = len(width) if isinstance(width, str) else width
        _check_width(pad, "indent width")
        _ensure_within(len(str(s)) + (str(s).count("\n") + 1) * max(pad, 0), "indent")
        return indent(s, width, first, blank)

    def do_batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
        _check_width(linecount, "batch size")
        return batch(value, linecount, fill_with)

    def do_slice(value: Any, slices: int, fill_with: Any = None) -> Any:
        _check_width(slices, "slice count")
        return slice_(value, slices, fill_with)

    def do_format(value: Any, *args: Any, **kwargs: Any) -> Any:
        _check_percent_format(str(value))
        return fmt(value, *args, **kwargs)

    @wraps(replace)
    def do_replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: Any = None) -> Any:
        _check_replace(str(s), old, new, -1 if count is None else count)
        return replace(eval_ctx, s, old, new, count)

    @wraps(join)
    def do_join(eval_ctx: Any, value: Any, d: Any = "", attribute: Any = None) -> Any:
        items = list(value)
        _check_join(items, d)
        return join(eval_ctx, items, d, attribute)

    @wraps(tojson)
    def do_tojson(eval_ctx: Any, value: Any, indent: Any = None) -> Any:
        _check_width(indent, "tojson indent")
        return tojson(eval_ctx, value, indent)

    filters.update(
        center=do_center,
        indent=do_indent,
        batch=do_batch,
        slice=do_slice,
        format=do_format,
        replace=do_replace,
        join=do_join,
        tojson=do_tojson,
    )


def _build_environment() -> _SquallEnvironment:
    env = _SquallEnvironment(
        undefined=_Undefined,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    # lipsum(n=10**6) is a one-call output bomb and no st2 pack needs it.
    env.globals.pop("lipsum", None)
    _guard_builtin_filters(env.filters)
    env.filters.update(ST2_FILTERS)
    env.filters.update(SHELL_FILTERS)  # used only by rewritten shell `cmd` templates
    for name, fn in list(env.filters.items()):
        env.filters[name] = bounded_filter(name, fn)
    env.filters[_LOOP_GUARD] = _loop_guard
    return env


ENV = _build_environment()


def run_with_budget(call: Callable[[], Any]) -> Any:
    """Run one render under a fresh allocation budget, mapping stray exceptions to ours."""
    token = _BUDGET.set(_Budget())
    try:
        return call()
    except TemplateError:
        raise
    except Exception as exc:  # a filter's ValueError, ZeroDivisionError, RecursionError...
        raise TemplateRenderError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        _BUDGET.reset(token)

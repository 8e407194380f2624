"""st2's ``st2common.util.jinja``: a Jinja environment and helpers for pack code.

Jinja2 is imported when used: a pack venv without it can still import this module.
"""

import json
import re

__all__ = [
    "convert_jinja_to_raw_block",
    "get_jinja_environment",
    "is_jinja_expression",
    "render_values",
]

JINJA_EXPRESSIONS_START_MARKERS = ["{{", "{%"]
JINJA_REGEX = "({{(.*?)}})"
JINJA_REGEX_PTRN = re.compile(JINJA_REGEX)
JINJA_BLOCK_REGEX = "({%(.*?)%})"
JINJA_BLOCK_REGEX_PTRN = re.compile(JINJA_BLOCK_REGEX)


def get_filters():
    return {
        "json_escape": lambda value: json.dumps(value)[1:-1] if isinstance(value, str) else value,
        "to_json_string": lambda value, indent=None, sort_keys=False: json.dumps(
            value, indent=indent, sort_keys=sort_keys
        ),
        "from_json_string": json.loads,
    }


def get_jinja_environment(allow_undefined=False, trim_blocks=True, lstrip_blocks=True):
    """A sandboxed environment, strict about undefined names unless ``allow_undefined``."""
    import jinja2
    import jinja2.sandbox

    undefined = jinja2.Undefined if allow_undefined else jinja2.StrictUndefined
    env = jinja2.sandbox.SandboxedEnvironment(
        undefined=undefined, trim_blocks=trim_blocks, lstrip_blocks=lstrip_blocks
    )
    env.filters.update(get_filters())
    env.tests["in"] = lambda item, seq: item in seq
    return env


def render_values(mapping=None, context=None, allow_undefined=False):
    """Render each string value of ``mapping`` with ``context``; other values pass through."""
    if not context or not mapping:
        return mapping
    env = get_jinja_environment(allow_undefined=allow_undefined)
    rendered = {}
    for key, value in mapping.items():
        if isinstance(value, str):
            rendered[key] = env.from_string(value).render(context)
        else:
            rendered[key] = value
    return rendered


def is_jinja_expression(value):
    if not value or not isinstance(value, str):
        return False
    return any(marker in value for marker in JINJA_EXPRESSIONS_START_MARKERS)


def convert_jinja_to_raw_block(value):
    """Wrap every Jinja expression of ``value`` (a string, list or dict) in a raw block."""
    if isinstance(value, dict):
        return {k: convert_jinja_to_raw_block(v) for k, v in value.items()}
    if isinstance(value, list):
        return [convert_jinja_to_raw_block(v) for v in value]
    if isinstance(value, str) and is_jinja_expression(value):
        return "{% raw %}" + value + "{% endraw %}"
    return value

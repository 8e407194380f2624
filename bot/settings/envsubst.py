"""``${VAR}`` and ``${VAR:-default}`` substitution on the scalars of a parsed YAML document.

The settings parser calls ``expand`` on each string value after YAML parsing, so an environment
variable can never inject YAML structure (a mapping, a list, another key). ``$${`` is a literal
``${``. ``${VAR:-default}`` uses the default when VAR is unset or empty, as POSIX shells do;
defaults end at the first ``}`` and do not nest. Keys are never substituted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# Alternatives in priority order: the escape, a complete reference, an unclosed reference.
_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_REFERENCE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


class EnvText(str):
    """A string that came (partly) from the environment.

    Environment variables are always text, so the parser may read an ``EnvText`` as an
    integer, number or boolean where the schema asks for one; YAML text never gets that leeway.
    """


def expand(text: str, env: Mapping[str, str]) -> str:
    """Expand one string; raises ValueError naming the first bad or unset reference."""
    parts: list[str] = []
    from_env = False
    end = 0
    for match in _TOKEN.finditer(text):
        parts.append(text[end : match.start()])
        end = match.end()
        if match.group(0) == "$${":
            parts.append("${")
            continue
        parts.append(_resolve(match.group(1), env))
        from_env = True
    parts.append(text[end:])
    joined = "".join(parts)
    return EnvText(joined) if from_env else joined


def _resolve(reference: str | None, env: Mapping[str, str]) -> str:
    if reference is None:
        raise ValueError("unclosed '${' (write '$${' for a literal '${')")
    match = _REFERENCE.fullmatch(reference)
    if match is None:
        expected = "expected ${NAME} or ${NAME:-default}"
        raise ValueError(f"invalid reference '${{{reference}}}' ({expected})")
    name, default = match.group(1), match.group(2)
    value = env.get(name, "")
    if value:
        return value
    if default is not None:
        return default
    if name in env:
        return ""
    raise ValueError(
        f"environment variable {name} is not set (use ${{{name}:-default}} to give a default)"
    )

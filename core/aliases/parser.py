"""st2's alias format parser (ActionAliasFormatParser, st2-format §6.2), reproduced exactly.

A format is pack-authored and *regex-transparent*: everything outside ``{{ param }}`` is raw
regular expression. The command is chat text, so matching is bounded (security.md §4.6): the
command is capped at ``MAX_COMMAND_CHARS`` and every search runs in the ``regex`` module with a
timeout (stdlib ``re`` cannot be interrupted, and st2's own trailing ``key=value`` pattern
already backtracks for half a minute on 2,000 spaces followed by ``=``). The patterns are kept
in Python ``re`` syntax, which ``regex`` (in its default VERSION0 mode) reads the same way.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import regex  # type: ignore[import-untyped]

from core.aliases import shape

__all__ = [
    "MATCH_TIMEOUT_SECONDS",
    "MAX_COMMAND_CHARS",
    "AliasParseError",
    "CompiledFormat",
    "compile_format",
    "extract",
    "literal_score",
    "parse",
    "parse_multiple",
    "split_trailing_pairs",
]

# hubot-stackstorm truncates at 500; leave room for pasted ids and JSON blobs.
MAX_COMMAND_CHARS: Final = 2000
# Per search; a legitimate alias match takes microseconds.
MATCH_TIMEOUT_SECONDS: Final = 0.25

_SRE: Any = importlib.import_module("re._parser")

# st2's snippets, verbatim in meaning (§6.2 step 1-3).
_KEY = r"\s*(\S+?)\s*"
_VALUE = r"\"\"|''|\"(.+?)\"|'(.+?)'|({.+?})|(\S+)"
_EXT_VALUE = r"\"\"|''|\"(.+?)\"|'(.+?)'|({.+?})|(.+?)"
_PAIRS = rf"(?:^|\s+){_KEY}=({_VALUE})"
_ENDING = rf".*?(({_PAIRS}\s*)*)$"
_OPTIONAL = "{{" + _KEY + rf"\s*=\s*(?:{_EXT_VALUE})\s*" + "}}"
_REQUIRED = "{{" + _KEY + "}}"
_VAL = r"(?:(?<=').+?(?=')|(?<=\").+?(?=\")|{.+?}|.+?)"

_PAIRS_RE = regex.compile(_PAIRS, regex.DOTALL)
_ENDING_RE = regex.compile(_ENDING, regex.DOTALL)
# Formats are trusted: these run on pack text only, with stdlib re like st2.
_OPTIONAL_RE = re.compile(r"(\s*)" + _OPTIONAL, re.DOTALL)
_REQUIRED_RE = re.compile(r"(\s*)" + _REQUIRED, re.DOTALL)
_ANY_PARAM_RE = re.compile(_OPTIONAL + "|" + _REQUIRED, re.DOTALL)
_GLOBAL_FLAGS_RE = re.compile(r"\(\?[aiLmsux]+\)")


class AliasParseError(ValueError):
    """The command does not match the format (or the format itself is not a valid pattern)."""


@dataclass(frozen=True)
class CompiledFormat:
    """A format turned into its regex, with what matching and ranking need."""

    format: str
    pattern: Any  # a compiled ``regex`` pattern
    # Optional parameter name → its default text, in format order.
    defaults: tuple[tuple[str, str], ...]
    # Literal characters every match must contain (ranks ambiguous matches, §6.3 Squall rule).
    literal_score: int
    # The command's first word must equal this for a match; None when no such word is implied.
    first_word: str | None


def _check_length(command: str) -> None:
    if len(command) > MAX_COMMAND_CHARS:
        raise AliasParseError(f"command is over {MAX_COMMAND_CHARS} characters")


def _timed(run: Any, *args: Any, timeout: float = MATCH_TIMEOUT_SECONDS) -> Any:
    # ``concurrent``: release the GIL, so a match run in a worker thread leaves the loop free.
    try:
        return run(*args, timeout=max(timeout, 0.001), concurrent=True)
    except TimeoutError:
        raise AliasParseError("command is too complex to match in time") from None


def split_trailing_pairs(command: str) -> tuple[str, dict[str, str]]:
    """Step 1: remove the trailing ``key=value`` run; return the padded stream and the pairs."""
    _check_length(command)
    ending = _timed(_ENDING_RE.match, command)
    run = ending.group(1) if ending else ""
    pairs: dict[str, str] = {}
    if run:
        for found in _timed(lambda **kw: list(_PAIRS_RE.finditer(run, **kw))):
            # Quotes and braces are stripped by the groups; ``""`` gives the empty string.
            pairs[found.group(1)] = "".join(g or "" for g in found.groups()[2:])
        command = command.replace(run, "")  # every occurrence, as st2's str.replace does
    return f" {command} ", pairs


@lru_cache(maxsize=2048)
def compile_format(format_: str) -> CompiledFormat:
    """Steps 2-4: the format's regex; ``AliasParseError`` if the result is not a valid regex."""
    defaults = tuple((m.group(2), "".join(g or "" for g in m.groups()[2:])) for m in
                     _OPTIONAL_RE.finditer(format_))  # fmt: skip
    pattern = _OPTIONAL_RE.sub(lambda m: f"(?:{_param_regex(m.group(1), m.group(2))})?", format_)
    pattern = _REQUIRED_RE.sub(lambda m: _param_regex(m.group(1), m.group(2)), pattern)
    try:
        tokens = _SRE.parse(pattern, re.DOTALL)
        if not _has_anchor(tokens, {"AT_BEGINNING", "AT_BEGINNING_STRING"}):
            flags = _GLOBAL_FLAGS_RE.match(pattern)
            # Python 3.11 wants ``(?i)`` first; st2 (older Pythons) accepted it after ``^\s*``.
            cut = flags.end() if flags else 0
            pattern = pattern[:cut] + r"^\s*" + pattern[cut:]
        if not _has_anchor(tokens, {"AT_END", "AT_END_STRING"}):
            pattern += r"\s*$"
        compiled = regex.compile(pattern, regex.DOTALL)
    except (re.error, regex.error, RecursionError, OverflowError) as exc:
        raise AliasParseError(f'format string "{format_}" is not a valid pattern: {exc}') from None
    return CompiledFormat(
        format=format_,
        pattern=compiled,
        defaults=defaults,
        literal_score=literal_score(format_),
        first_word=shape.fixed_first_word(_SRE.parse(pattern, re.DOTALL)),
    )


def _param_regex(space: str, name: str) -> str:
    # The whitespace before ``{{`` is kept literally, as st2's ``\1`` replacement does.
    return f"{space}[\"']?(?P<{name}>{_VAL})[\"']?"


def _has_anchor(tokens: Any, anchors: set[str]) -> bool:
    """st2's ``search_regex_tokens``: look through groups and branches, not into repeats."""
    for op, arg in tokens:
        name = op.name
        if name == "SUBPATTERN" and _has_anchor(arg[3], anchors):
            return True
        if name == "BRANCH" and any(_has_anchor(branch, anchors) for branch in arg[1]):
            return True
        if name == "AT" and arg.name in anchors:
            return True
    return False


def parse(format_: str, command: str | None) -> dict[str, Any]:
    """Extract the parameters of ``command`` per ``format_`` (st2 ``extract_parameters``).

    Values are strings (``None`` for an unmatched named group). Raises ``AliasParseError``.
    """
    stream, pairs = split_trailing_pairs(command or "")
    return extract(compile_format(format_), command or "", stream, pairs)[0]


def parse_multiple(format_: str, command: str | None) -> list[dict[str, Any]]:
    """``match_multiple``: one parameter dict per non-overlapping match (step 9)."""
    stream, pairs = split_trailing_pairs(command or "")
    return extract(compile_format(format_), command or "", stream, pairs, multiple=True)


def extract(
    compiled: CompiledFormat,
    command: str,
    stream: str,
    pairs: dict[str, str],
    *,
    multiple: bool = False,
    timeout: float = MATCH_TIMEOUT_SECONDS,
) -> list[dict[str, Any]]:
    """Match an already split command (``split_trailing_pairs``) against a compiled format.

    One dict, or one per match when ``multiple``; raises ``AliasParseError`` on no match.
    Splitting once lets a matcher try many formats on one message.
    """
    if multiple:
        found = _timed(lambda **kw: list(compiled.pattern.finditer(stream, **kw)), timeout=timeout)
    else:
        one = _timed(compiled.pattern.search, stream, timeout=timeout)
        found = [] if one is None else [one]
    if not found:
        format_ = compiled.format
        raise AliasParseError(f'Command "{command}" doesn\'t match format string "{format_}"')
    return [_parameters(compiled, match, stream, pairs) for match in found]


def _parameters(
    compiled: CompiledFormat, found: Any, stream: str, pairs: dict[str, str]
) -> dict[str, Any]:
    """Steps 6-7: named groups, then defaults for falsy optionals, then the trailing pairs."""
    result: dict[str, Any] = dict(found.groupdict())
    for name, default in compiled.defaults:
        result[name] = result.get(name) or default
    result.update(pairs)
    if compiled.format and not (stream.strip() or any(result.values())):
        raise AliasParseError("No value supplied and no default value found.")
    return result


def literal_score(format_: str) -> int:
    """Literal (non-space) characters a match of the format is sure to contain.

    Parameters count nothing; optional parts count nothing; of alternatives the shortest counts.
    So ``ping {{host}} count {{count}}`` (9) outranks ``ping {{host}}`` (4).
    """
    bare = _ANY_PARAM_RE.sub(" ", format_)
    try:
        return shape.guaranteed_literals(_SRE.parse(bare, re.DOTALL))
    except (re.error, RecursionError, OverflowError):
        return sum(not ch.isspace() for ch in bare)

"""Which alias a chat message means (st2-format §6.3), with Squall's ambiguity rule.

st2's server refuses a message matching more than one pattern; its hubot client takes the first
in load order. Squall picks the most specific format (the most literal text, see
``parser.literal_score``) and, when that still ties, answers with the candidates instead of
guessing. As in st2, formats without ``match_multiple`` are tried first; ``match_multiple``
formats only when none of those matched. Disabled aliases never match.

Matching is bounded: each format gets ``MATCH_TIMEOUT_SECONDS`` and one message at most
``MATCH_BUDGET_SECONDS`` in all (the one clock read here), after which it is no match.

Formats whose regex fixes the first word (``ping {{host}}``) are indexed by it, so a message
is only tried against the formats it could match plus the few that fix no first word.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from core.aliases.parser import (
    MATCH_TIMEOUT_SECONDS,
    AliasParseError,
    CompiledFormat,
    compile_format,
    extract,
    split_trailing_pairs,
)
from core.aliases.shape import first_word
from core.models import Alias

__all__ = [
    "MATCH_BUDGET_SECONDS",
    "AliasIndex",
    "AliasMatch",
    "AmbiguousAliasMatch",
    "NoAliasMatch",
]

# Every format of every alias on one message, in all.
MATCH_BUDGET_SECONDS: Final = 1.0


@dataclass(frozen=True)
class AliasMatch:
    alias: Alias
    representation: str
    display: str
    parameters: dict[str, Any]
    literal_score: int

    @property
    def format(self) -> str:
        """The representation that matched (st2 calls it the alias ``format``)."""
        return self.representation


class NoAliasMatch(LookupError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class AmbiguousAliasMatch(LookupError):
    """Several formats match equally well; ``candidates`` holds the best of them."""

    def __init__(self, command: str, candidates: list[AliasMatch]) -> None:
        self.candidates = candidates
        shown = ", ".join(f'{c.alias.ref} "{c.representation}"' for c in candidates)
        super().__init__(f"Command '{command}' matched more than 1 pattern: {shown}")

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class _Entry:
    position: int
    alias: Alias
    display: str
    representation: str
    multiple: bool
    compiled: CompiledFormat


class AliasIndex:
    """The enabled aliases' formats, compiled once; ``match`` is pure and thread-safe."""

    def __init__(self, aliases: Iterable[Alias]) -> None:
        self._aliases = list(aliases)
        self._by_word: dict[str, list[_Entry]] = {}
        self._unindexed: list[_Entry] = []
        for entry in _entries(self._aliases):
            word = entry.compiled.first_word
            bucket = self._unindexed if word is None else self._by_word.setdefault(word, [])
            bucket.append(entry)

    def aliases(self) -> list[Alias]:
        """Every alias given, disabled ones included, in load order."""
        return list(self._aliases)

    def match(self, text: str) -> list[AliasMatch]:
        """The matching alias format: one match, or one per occurrence for ``match_multiple``.

        Raises ``NoAliasMatch`` (with the reason) or ``AmbiguousAliasMatch``.
        """
        try:
            stream, pairs = split_trailing_pairs(text)
        except AliasParseError as exc:
            raise NoAliasMatch(f"Command '{_shorten(text)}' cannot be matched: {exc}") from None
        entries = self._candidates(first_word(stream))
        deadline = time.monotonic() + MATCH_BUDGET_SECONDS
        for multiple in (False, True):
            chosen = [e for e in entries if e.multiple is multiple]
            found = _matches(chosen, text, stream, pairs, deadline)
            if found:
                return _pick(text, found)
        raise NoAliasMatch(f"Command '{_shorten(text)}' matched no patterns")

    def aliases_for_word(self, text: str) -> list[Alias]:
        """The aliases with a format that fixes the text's first word, in load order: what
        someone who typed ``echo`` without its message probably meant."""
        entries = sorted(self._by_word.get(first_word(text), []), key=lambda e: e.position)
        return list({entry.alias.ref: entry.alias for entry in entries}.values())

    def _candidates(self, word: str) -> list[_Entry]:
        indexed = self._by_word.get(word, [])
        return sorted([*indexed, *self._unindexed], key=lambda e: e.position)


def _entries(aliases: list[Alias]) -> Iterable[_Entry]:
    position = 0
    for alias in aliases:
        if not alias.enabled:
            continue
        for format_ in alias.formats:
            for representation in format_.representations:
                compiled = compile_format(representation)
                yield _Entry(
                    position, alias, format_.display, representation, format_.match_multiple,
                    compiled,
                )  # fmt: skip
                position += 1


def _matches(
    entries: list[_Entry], text: str, stream: str, pairs: dict[str, str], deadline: float
) -> list[list[AliasMatch]]:
    """Per matching entry, its matches (several only for ``match_multiple``)."""
    found: list[list[AliasMatch]] = []
    for entry in entries:
        left = deadline - time.monotonic()
        if left <= 0:
            raise NoAliasMatch(f"Command '{_shorten(text)}' took too long to match")
        timeout = min(MATCH_TIMEOUT_SECONDS, left)
        try:
            results = extract(
                entry.compiled, text, stream, pairs, multiple=entry.multiple, timeout=timeout
            )
        except AliasParseError:
            continue
        found.append([_match(entry, parameters) for parameters in results])
    return found


def _match(entry: _Entry, parameters: dict[str, Any]) -> AliasMatch:
    return AliasMatch(
        alias=entry.alias,
        representation=entry.representation,
        display=entry.display,
        parameters=parameters,
        literal_score=entry.compiled.literal_score,
    )


def _pick(text: str, found: list[list[AliasMatch]]) -> list[AliasMatch]:
    best = max(group[0].literal_score for group in found)
    top = [group for group in found if group[0].literal_score == best]
    # The same alias reaching the same parameters through two formats is not a real choice.
    distinct: dict[tuple[str, str], list[AliasMatch]] = {}
    for group in top:
        key = (group[0].alias.ref, repr([m.parameters for m in group]))
        distinct.setdefault(key, group)
    if len(distinct) == 1:
        return top[0]
    raise AmbiguousAliasMatch(_shorten(text), [group[0] for group in distinct.values()])


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."

"""The loaded content, by ref: what the engine looks actions (and later rules, aliases…) up in."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from core.models import Action, Pack


class UnknownContentError(KeyError):
    """A ref that is not loaded; the message suggests close matches."""

    kind = "content"

    def __init__(self, ref: str, known: Iterable[str]) -> None:
        self.ref = ref
        self.suggestions = difflib.get_close_matches(ref, sorted(known), n=3, cutoff=0.8)
        super().__init__(self._message())

    def _message(self) -> str:
        message = f"unknown {self.kind} {self.ref!r}"
        if self.suggestions:
            message += f"; did you mean {' or '.join(repr(s) for s in self.suggestions)}?"
        return message

    def __str__(self) -> str:
        # KeyError would print the repr of its argument, quotes and all.
        return self._message()


class UnknownActionError(UnknownContentError):
    kind = "action"


class UnknownPackError(UnknownContentError):
    kind = "pack"


@dataclass
class ContentIndex:
    packs: dict[str, Pack] = field(default_factory=dict)
    actions: dict[str, Action] = field(default_factory=dict)

    def get_action(self, ref: str) -> Action:
        try:
            return self.actions[ref]
        except KeyError:
            raise UnknownActionError(ref, self.actions) from None

    def get_pack(self, ref: str) -> Pack:
        try:
            return self.packs[ref]
        except KeyError:
            raise UnknownPackError(ref, self.packs) from None

    def pack_actions(self, pack_ref: str) -> list[Action]:
        return [a for a in self.actions.values() if a.pack == pack_ref]

"""Merging a workflow's contexts: Orquesta's merge, and the memo of merged prefixes. Pure.

A task's inbound context is the merge of a list of context indexes, in order, and that list is
its predecessor's plus what the predecessor published. So merged prefixes are kept in a trie:
one merge per new prefix, no recursion (a loop that publishes makes thousands of indexes) and
O(n) memory (a tuple key per prefix would cost O(n²)); the latest few lookups are also kept by
their whole key, so the next task's (one index longer) costs one tuple, not a walk down.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

__all__ = ["MergedContexts", "merge_contexts"]

_LIMIT: Final = 4096  # merged prefixes kept, beyond the path being merged
_RECENT: Final = 64


def merge_contexts(left: Mapping[str, Any], right: Mapping[str, Any]) -> dict[str, Any]:
    """Orquesta's ``merge_dicts(left, right, overwrite=True)`` without changing either input:
    nested dicts merge, everything else in ``right`` wins."""
    merged = dict(left)
    for key, value in right.items():
        mine = merged.get(key)
        if isinstance(mine, Mapping) and isinstance(value, Mapping):
            merged[key] = merge_contexts(mine, value)
        else:
            merged[key] = value
    return merged


class _Prefix:
    """A merged prefix of context indexes, and the prefixes one index longer."""

    __slots__ = ("next", "value")

    def __init__(self, value: dict[str, Any]) -> None:
        self.value = value
        self.next: dict[int, _Prefix] = {}


class MergedContexts:
    """The memo of merged context prefixes of one workflow (contexts are append-only and
    never changed in place, so a merge stays true)."""

    def __init__(self) -> None:
        self._root = _Prefix({})
        self._size = 0
        self._recent: dict[tuple[int, ...], _Prefix] = {}

    def _forget(self) -> None:
        self._root, self._size, self._recent = _Prefix({}), 0, {}

    def merged(self, contexts: Sequence[Mapping[str, Any]], indexes: list[int]) -> dict[str, Any]:
        """The merge of ``contexts[i]`` for ``i`` in ``indexes``, in order (a new dict)."""
        key = tuple(indexes)
        node = self._recent.get(key)
        if node is None:
            if self._size > _LIMIT + len(key):
                self._forget()
            parent = self._recent.get(key[:-1]) if len(key) > 1 else None
            if parent is not None:
                node = self._merge_on(parent, contexts, key[-1:])
            else:
                node = self._merge_on(self._root, contexts, key)
            if len(self._recent) >= _RECENT:
                self._recent.clear()
            self._recent[key] = node
        return dict(node.value)  # callers add keys; nested values are never changed in place

    def _merge_on(
        self, node: _Prefix, contexts: Sequence[Mapping[str, Any]], indexes: Iterable[int]
    ) -> _Prefix:
        for index in indexes:
            child = node.next.get(index)
            if child is None:
                child = node.next[index] = _Prefix(merge_contexts(node.value, contexts[index]))
                self._size += 1
            node = child
        return node

"""bot.heap: serve freezes its startup heap; a content reload lets the replaced content go."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from bot.heap import YOUNG_THRESHOLD, freeze_startup_heap, refreeze_after_reload


class Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector can free it


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_the_startup_heap_is_frozen_and_young_collections_are_rarer() -> None:
    freeze_startup_heap()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD


@pytest.mark.usefixtures("restored_gc")
def test_content_replaced_by_a_reload_is_collected_although_it_was_frozen() -> None:
    old_content = Node()
    gone = weakref.ref(old_content)
    freeze_startup_heap()
    del old_content
    gc.collect()
    assert gone() is not None  # frozen: the collector no longer looks at it
    asyncio.run(refreeze_after_reload())
    assert gone() is None

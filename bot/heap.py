"""The cyclic garbage collector, tuned for a long-running ``squall serve``.

Startup builds a large heap that lives as long as the process: modules, pack content, compiled
templates, the engine. CPython's collector walks it again in every older-generation collection,
and under webhook load the collections cost more CPU than any single step of the event path.
Measured with bench/webhooks.py at 1,000 events/s (CPU spent inside the collector per event,
from ``gc.callbacks``), the heap frozen: 130 µs with young collections every 700 allocations
(CPython's default), 40-55 µs every 10,000, ~10 µs every 50,000; the whole process went from
935-945 to 762-784 µs per event (and freezing alone had taken it from 956 to 800). So once
serving starts, the heap is frozen (``gc.freeze``: still freed by reference counting, never
walked again) and young collections run less often. After a content reload the old content is
garbage: unfreeze, collect it, freeze what is live again.

Only ``serve`` does this: a test process opens hundreds of engines, and a frozen engine that
became cyclic garbage would never be collected.
"""

from __future__ import annotations

import gc

# Allocations between young collections (CPython's default is 700): at most a few MB of young
# objects wait for a collection. The older generations' thresholds stay at their defaults.
YOUNG_THRESHOLD = 50_000


def freeze_startup_heap() -> None:
    """Collect what startup left behind, freeze the rest, collect the young less often."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)


async def refreeze_after_reload() -> None:
    """A content reload's ``after_apply`` hook: the replaced content becomes collectable."""
    gc.unfreeze()
    freeze_startup_heap()

"""Content reload in a running ``squall serve``: packs, rules, aliases and policies.

Triggered by SIGHUP (``squall pack reload`` sends it), and by file changes with
``packs.watch: true`` (modification times polled every ``packs.watch_interval_seconds``; no
inotify dependency). A reload loads everything afresh with the same ``load_content`` as the
start; if that finds errors, nothing changes: the content loaded before stays, and the errors
are logged and shown on ``/healthz`` (``content.errors``), where ``pack reload`` reads them.

The new content is swapped into the objects every component already holds (the content index's
dicts, the rule set, the policy set) in one synchronous step on the event loop, so no request
sees half of it. Then the ``after_apply`` hooks run (the sensors: new ones start, removed ones
stop, changed ones restart; rule changes reach their add/remove_trigger through the rule set).
Not reloaded: the Python of running executions, and Discord's slash command list (refreshed at
its next connect) — a restart picks those up.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from bot.app import Engine, content_paths, load_content
from core.aliases import AliasIndex
from core.packs.errors import only_errors
from core.packs.loader import LoadResult
from core.policies import compile_policies

logger = logging.getLogger(__name__)

Snapshot = frozenset[tuple[str, int, int]]


@dataclass
class ContentReloads:
    """Reloads content into ``engine`` one at a time; what ``/healthz`` reports about them."""

    engine: Engine
    generation: int = 0  # reloads tried (successful or not)
    errors: list[str] = field(default_factory=list)  # of the latest try; empty when it worked
    # Run after new content was applied (e.g. the sensor container re-reading sensors/*.yaml).
    after_apply: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def status(self) -> dict[str, object]:
        return {"generation": self.generation, "errors": list(self.errors)}

    async def reload(self, why: str) -> list[str]:
        """Load again; apply only if nothing is wrong. Returns the errors (empty: applied)."""
        async with self._lock:
            result = await asyncio.to_thread(load_content, self.engine.settings)
            problems = [str(e) for e in only_errors(result.errors)]
            self.generation += 1
            self.errors = problems
            if problems:
                logger.error(
                    "content reload (%s) found %d errors; the content loaded before stays",
                    why, len(problems),
                )  # fmt: skip
                return problems
            apply_content(self.engine, result)
            for hook in self.after_apply:
                try:
                    await hook()
                except Exception:
                    logger.exception("content reload (%s): %r failed", why, hook)
            index = self.engine.content.index
            logger.info(
                "content reloaded (%s): %d packs, %d actions, %d rules, %d aliases",
                why, len(index.packs), len(index.actions), len(index.rules), len(index.aliases),
            )  # fmt: skip
            return []


def apply_content(engine: Engine, result: LoadResult) -> None:
    """Swap ``result`` in, in place: components keep their references to the index and sets."""
    index = engine.content.index
    for part in dataclasses.fields(index):
        held, fresh = getattr(index, part.name), getattr(result.index, part.name)
        held.clear()
        held.update(fresh)
    engine.content.errors[:] = result.errors
    engine.rules.replace_rules(index.rules.values())  # timers and webhook routes follow
    engine.aliases = AliasIndex(index.aliases.values())
    engine.executions.policies.policies = compile_policies(index.policies.values())


def watched_paths(engine: Engine) -> list[Path]:
    settings = engine.settings
    return [*content_paths(settings), *settings.aliases.paths, settings.packs.config_dir]


def snapshot(paths: Iterable[Path]) -> Snapshot:
    """Every file under ``paths`` with its modification time and size."""
    seen: set[tuple[str, int, int]] = set()
    for root in paths:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
            for name in files:
                path = os.path.join(folder, name)
                try:
                    stat = os.stat(path)
                except OSError:  # removed meanwhile, or a dangling link
                    continue
                seen.add((path, stat.st_mtime_ns, stat.st_size))
    return frozenset(seen)


async def watch_forever(reloads: ContentReloads, interval: float, last: Snapshot) -> None:
    """Reload when a watched file appears, disappears or changes since ``last`` (taken by the
    caller when the content was loaded: a snapshot taken here, once the task first runs, could
    already hold a change made after the listener answered, and that change would be missed)."""
    paths = watched_paths(reloads.engine)
    while True:
        await asyncio.sleep(interval)
        current = await asyncio.to_thread(snapshot, paths)
        if current != last:
            last = current
            await reloads.reload("files changed")

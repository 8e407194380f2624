"""Alias matching time per chat message with 10, 100 and 1,000 aliases.

Each alias has two formats, ``cmdN {{target}}`` and ``cmdN {{target}} on {{host=localhost}}``,
so most formats are indexed by their first word. ``hit`` messages match one alias, ``miss``
messages match none, ``unindexed`` adds 10 regex formats (``(?:\\b|^)...``) that every message
must try. Run alone with ``python -m bench.aliases`` (prints JSON).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from core.aliases import AliasIndex, NoAliasMatch
from core.models import Alias, AliasFormat

MESSAGES = 2000


def _aliases(count: int, unindexed: int) -> list[Alias]:
    made = []
    for n in range(count):
        formats = [f"cmd{n} {{{{target}}}}", f"cmd{n} {{{{target}}}} on {{{{host=localhost}}}}"]
        made.append(
            Alias(
                "bench", f"a{n}", "core.noop", formats=tuple(AliasFormat(f, (f,)) for f in formats)
            )
        )
    for n in range(unindexed):
        pattern = rf"(?:\b|^)ticket{n} (?P<key>[A-Z]+-[0-9]+)"
        made.append(
            Alias("bench", f"r{n}", "core.noop", formats=(AliasFormat(pattern, (pattern,)),))
        )
    return made


def _time_per_message(index: AliasIndex, texts: list[str]) -> float:
    start = time.perf_counter()
    for text in texts:
        with contextlib.suppress(NoAliasMatch):
            index.match(text)
    return (time.perf_counter() - start) / len(texts) * 1e6


async def run(_tmp: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for count in (10, 100, 1000):
        for unindexed in (0, 10):
            index = AliasIndex(_aliases(count, unindexed))
            hits = [f"cmd{i % count} web{i} on db{i}" for i in range(MESSAGES)]
            misses = [f"nothing{i} to see here" for i in range(MESSAGES)]
            rows.append(
                {
                    "aliases": count,
                    "unindexed formats": unindexed,
                    "hit µs/msg": round(_time_per_message(index, hits), 1),
                    "miss µs/msg": round(_time_per_message(index, misses), 1),
                }
            )
    return rows


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(asyncio.run(run(Path(tmp))), indent=2))
    sys.exit(0)

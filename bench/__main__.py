"""``make bench``: every benchmark, printed as a markdown table and saved as JSON + markdown."""

from __future__ import annotations

import asyncio
import importlib
import json
import platform
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.goals import goals

SUITES = (
    "bench.store",
    "bench.python_runner",
    "bench.executions",
    "bench.rules",
    "bench.aliases",
    "bench.chat",
    "bench.webhooks",
    "bench.api",
    "bench.timers",
    "bench.sensors",
    "bench.observe",
    "bench.conductor",
    "bench.workflows",
    "bench.memory",
)
RESULTS = Path(__file__).resolve().parent / "results"


def markdown(rows: list[dict[str, Any]]) -> str:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


async def main() -> int:
    all_rows: dict[str, list[dict[str, Any]]] = {}
    for name in SUITES:
        module = importlib.import_module(name)
        with tempfile.TemporaryDirectory() as tmp:
            all_rows[name] = await module.run(Path(tmp))
        print(f"\n## {name}\n\n{markdown(all_rows[name])}", flush=True)
    table = goals(all_rows)
    print(f"\n## goal vs measured (issue 18)\n\n{markdown(table)}", flush=True)
    RESULTS.mkdir(exist_ok=True)
    meta = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
    }
    (RESULTS / "latest.json").write_text(
        json.dumps({"meta": meta, **all_rows, "goals": table}, indent=2)
    )
    (RESULTS / "latest.md").write_text(
        "\n\n".join(f"## {name}\n\n{markdown(rows)}" for name, rows in all_rows.items())
        + f"\n\n## goal vs measured (issue 18)\n\n{markdown(table)}\n"
    )
    print(f"\nsaved {RESULTS / 'latest.json'} and latest.md")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

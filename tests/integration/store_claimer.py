"""Helper process for test_store_processes: claim from one SQLite file until nothing is left.

Usage: ``python store_claimer.py DB_PATH OWNER``. Opens the store, prints ``ready``, waits for a
line on stdin (so that both processes start claiming together), then prints each claimed id on
its own line.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path

from core.models import utcnow
from core.store.sqlite import SqliteStore

LEASE = timedelta(minutes=10)


async def claim_all(path: Path, owner: str) -> None:
    store = SqliteStore(path)
    await store.open()
    try:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        while True:
            now = utcnow()
            claimed = await store.executions.claim(owner, now + LEASE, now)
            if claimed is None:
                return
            print(claimed.id, flush=True)
    finally:
        await store.close()


def main() -> None:
    asyncio.run(claim_all(Path(sys.argv[1]), sys.argv[2]))


if __name__ == "__main__":
    main()

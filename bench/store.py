"""Store operations per second on SQLite (the embedded default).

Each row times calls through the public repository API, one at a time unless it says
concurrent, so document encoding and decoding are included. Run alone with
``python -m bench.store`` (prints JSON).

Why writes go through a writer thread (measured on a 2-CPU VM, 5,000 inserts, this schema):

    ============  ===========  ===============  ===============  ==================
    synchronous   concurrency  on the loop      writer thread    loop CPU (thread)
    ============  ===========  ===============  ===============  ==================
    NORMAL        1            160-172 µs/op    207-245 µs/op    ~70 µs/op
    NORMAL        32           123-161 µs/op    65-70 µs/op
    FULL          1            340-700 µs/op    390-460 µs/op    ~76 µs/op
    FULL          32           326-456 µs/op    89-97 µs/op
    ============  ===========  ===============  ===============  ==================

On the loop, every microsecond of a write (and any wait for another process's lock) stalls
everything else; the thread costs ~40 µs more latency one-at-a-time, and wins under load
because one COMMIT covers every write queued meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from core.models import (
    Execution,
    ExecutionStatus,
    RuleEnforcement,
    TriggerInstance,
    TriggerInstanceStatus,
    utcnow,
)
from core.models.trigger_instance import execution_id_for
from core.store import ExecutionQuery
from core.store.base import Fired
from core.store.sqlite import SqliteStore

OPS = 5000
LIST_OPS = 500  # each list decodes 50 documents
CONCURRENCY = 32
# Webhook events stored at once (one transaction), as at ~2,500 events/s in bench.webhooks.
EVENT_BATCH = 20


def _executions(n: int) -> list[Execution]:
    return [
        Execution.request(
            "core.local",
            "local-shell-cmd",
            {"cmd": f"echo {i}", "timeout": 60},
            {"user": f"user{i % 10}", "source_channel": "ops"},
        )
        for i in range(n)
    ]


def _row(name: str, ops: int, elapsed: float) -> dict[str, object]:
    return {
        "benchmark": f"sqlite {name}",
        "ops": ops,
        "ops_per_sec": round(ops / elapsed),
        "us_per_op": round(elapsed / ops * 1e6, 1),
    }


async def _timed(name: str, calls: Sequence[Callable[[], Awaitable[Any]]]) -> dict[str, object]:
    start = time.perf_counter()
    for call in calls:
        await call()
    return _row(name, len(calls), time.perf_counter() - start)


async def _timed_concurrent(
    name: str, calls: Sequence[Callable[[], Awaitable[Any]]]
) -> dict[str, object]:
    start = time.perf_counter()
    for i in range(0, len(calls), CONCURRENCY):
        await asyncio.gather(*(call() for call in calls[i : i + CONCURRENCY]))
    return _row(f"{name} ({CONCURRENCY} concurrent)", len(calls), time.perf_counter() - start)


async def _suite(store: SqliteStore) -> list[dict[str, object]]:
    repo = store.executions
    fresh, more = _executions(OPS), _executions(OPS)
    scheduled = [e.transition(ExecutionStatus.SCHEDULED) for e in fresh]
    cas = functools.partial(repo.replace, expected_status=ExecutionStatus.REQUESTED)
    page = ExecutionQuery(limit=50)
    intake = functools.partial(_intake, store, utcnow())
    return [
        await _timed("insert", [functools.partial(repo.insert, e) for e in fresh]),
        await _timed_concurrent("insert", [functools.partial(repo.insert, e) for e in more]),
        await _timed("CAS update (replace)", [functools.partial(cas, e) for e in scheduled]),
        await _timed("get", [functools.partial(repo.get, e.id) for e in fresh]),
        await _timed("list(limit 50)", [functools.partial(repo.list, page)] * LIST_OPS),
        await _timed("claim + CAS to scheduled", [intake] * OPS),
        await _webhook_events(store),
    ]


def _webhook_event(n: int) -> tuple[TriggerInstance, list[Fired]]:
    """What the rules engine stores for one webhook event (``insert_settled``): the processed
    instance, its rule's enforcement and the finished ``core.noop`` execution."""
    body = {"kind": "bench", "seq": n}
    headers = {"Host": "127.0.0.1:8080", "Content-Type": "application/json"}
    payload = {"headers": headers, "headers_lower": headers, "body": body}
    instance = TriggerInstance.new("core.st2.webhook", payload, "webhook:bench", None, {"url": "b"})
    execution_id = execution_id_for(instance.id, "benchhooks.noop")
    rule = {"ref": "benchhooks.noop"}
    context = {"user": "stanley", "rule": rule, "trace_context": instance.trace.to_doc()}
    execution = Execution.request("core.noop", "noop", {}, context, execution_id=execution_id)
    running = execution.transition(ExecutionStatus.RUNNING)
    done = running.transition(ExecutionStatus.SUCCEEDED, result={"succeeded": True})
    enforcement = RuleEnforcement.new("benchhooks.noop", instance.id, execution_id=execution_id)
    return instance.transition(TriggerInstanceStatus.PROCESSED), [Fired(enforcement, done)]


async def _webhook_events(store: SqliteStore) -> dict[str, object]:
    """A webhook event's rows (instance, enforcement, execution: ~19 B-tree inserts) in one
    write, ``EVENT_BATCH`` events per transaction; CPU per event beside the wall time."""
    events = [_webhook_event(n) for n in range(OPS)]
    start, cpu = time.perf_counter(), time.process_time()
    for first in range(0, OPS, EVENT_BATCH):
        batch = events[first : first + EVENT_BATCH]
        await asyncio.gather(*(store.trigger_instances.insert_settled(i, f) for i, f in batch))
    row = _row(
        f"webhook event rows in one write ({EVENT_BATCH} concurrent)",
        OPS,
        time.perf_counter() - start,
    )
    return {**row, "cpu_us_per_op": round((time.process_time() - cpu) / OPS * 1e6, 1)}


async def _intake(store: SqliteStore, now: datetime) -> None:
    """What the engine does per execution it picks up: lease it, then CAS it to scheduled."""
    claimed = await store.executions.claim("bench", now + timedelta(minutes=5), now)
    if claimed is None:
        raise RuntimeError("bench: nothing left to claim")
    scheduled = claimed.transition(ExecutionStatus.SCHEDULED)
    await store.executions.replace(scheduled, expected_status=ExecutionStatus.REQUESTED)


def raw_batched_inserts(path: Path, count: int = OPS * 4, batch: int = 256) -> dict[str, object]:
    """The floor under every Squall write: stdlib sqlite3 alone, same file settings (WAL,
    synchronous=NORMAL), execution-sized JSON rows, ``batch`` rows per transaction."""
    docs = [json.dumps(e.to_doc(), separators=(",", ":")) for e in _executions(min(count, 500))]
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE raw (id TEXT PRIMARY KEY, status TEXT, doc TEXT)")
        start = time.perf_counter()
        for first in range(0, count, batch):
            rows = [
                (f"r{n}", "requested", docs[n % len(docs)])
                for n in range(first, min(count, first + batch))
            ]
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany("INSERT INTO raw VALUES (?, ?, ?)", rows)
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
    finally:
        conn.close()
    return _row(f"raw sqlite3 insert, {batch} per transaction (baseline)", count, elapsed)


async def run(workdir: Path) -> list[dict[str, object]]:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "bench-store.db"
    for leftover in workdir.glob("bench-store.db*"):
        leftover.unlink()
    store = SqliteStore(path)
    await store.open()
    try:
        rows = await _suite(store)
    finally:
        await store.close()
    return [*rows, raw_batched_inserts(workdir / "bench-raw.db")]


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        json.dump(asyncio.run(run(Path(tmp))), sys.stdout, indent=2)
        print()

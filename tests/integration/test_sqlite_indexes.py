"""SQLite schema v13 (fewer B-trees per webhook event): a v12 file upgrades with its rows, and
every lookup of the trace tags and of the rule enforcements still searches an index."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.models import Execution, RuleEnforcement, TriggerInstance
from core.models.execution import isoformat
from core.models.trace import TraceContext
from core.store.sqlite import SqliteStore
from core.store.sqlite_execution_rows import INSERT as EXECUTION_INSERT
from core.store.sqlite_execution_rows import execution_values
from core.store.sqlite_schema import LATEST, MIGRATIONS

RULE, OTHER_RULE = "pack.rule", "pack.other"


def tagged_instance(tag: str | None) -> TriggerInstance:
    trace = TraceContext.new(tag)
    return TriggerInstance.new("core.st2.webhook", {"tag": tag}, source="webhook:x", trace=trace)


def execution_of(instance: TriggerInstance) -> Execution:
    context = {"user": "stanley", "trace_context": instance.trace.to_doc()}
    return Execution.request("core.noop", "noop", {}, context)


def doc_and_trace(i: TriggerInstance) -> tuple[Any, ...]:
    return json.dumps(i.to_doc()), i.trace.id, i.trace.tag


def stamp_and_doc(e: RuleEnforcement) -> tuple[Any, ...]:
    return isoformat(e.enforced_at), json.dumps(e.to_doc())


def write_v12_file(
    path: Path,
    instances: list[TriggerInstance],
    enforcements: list[RuleEnforcement],
    executions: list[Execution],
) -> None:
    """A file as schema v12 left it: the released migrations, rows written with plain SQL."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        for version, migration in enumerate(MIGRATIONS[:12], start=1):
            for statement in migration:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version VALUES (?, 'then')", (version,))
        for i in instances:
            conn.execute(
                "INSERT INTO trigger_instances VALUES (?, ?, ?, ?, NULL, ?, ?, ?)",
                (i.id, i.trigger, str(i.status), isoformat(i.occurrence_time), *doc_and_trace(i)),
            )
        for e in enforcements:
            conn.execute(
                "INSERT INTO rule_enforcements VALUES (?, ?, ?, ?, ?, ?)",
                (e.id, e.rule_ref, e.trigger_instance_id, e.execution_id, *stamp_and_doc(e)),
            )
        for x in executions:
            conn.execute(EXECUTION_INSERT, (x.id, *execution_values(x)))
    finally:
        conn.close()


async def test_a_v12_file_upgrades_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "v12.db"
    tagged, plain = tagged_instance("deploy-7"), tagged_instance(None)
    runs = [execution_of(tagged), execution_of(plain)]
    both = [RuleEnforcement.new(r, tagged.id, runs[0].id) for r in (RULE, OTHER_RULE)]
    one = RuleEnforcement.new(RULE, plain.id, runs[1].id)
    write_v12_file(path, [tagged, plain], [*both, one], runs)

    store = SqliteStore(path)
    await store.open()
    try:
        assert await store.schema_version() == LATEST == 13
        enforcements = store.rule_enforcements
        assert {e.id for e in await enforcements.list(trigger_instance_id=tagged.id)} == {
            e.id for e in both
        }
        assert {e.id for e in await enforcements.list(rule_ref=RULE)} == {both[0].id, one.id}
        assert await enforcements.count(rule_ref=RULE, trigger_instance_id=plain.id) == 1
        assert await enforcements.get(one.id) == one
        # Still one enforcement per (rule, instance): a re-evaluation cannot fire twice.
        assert await enforcements.insert(RuleEnforcement.new(RULE, tagged.id)) is False
        assert await enforcements.insert(RuleEnforcement.new(RULE, "new-instance")) is True
        # The tag lookups find the tagged rows; the untagged ones are still found by trace id.
        assert await store.traces.find_by_tag("deploy-7") == tagged.trace.id
        assert [x.id for x in await store.traces.executions(plain.trace.id)] == [runs[1].id]
        assert [i.id for i in await store.traces.instances(plain.trace.id)] == [plain.id]
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    try:
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        rows = conn.execute("SELECT COUNT(*) FROM rule_enforcements").fetchone()[0]
    finally:
        conn.close()
    assert "rule_enforcements_instance" not in indexes
    assert "rule_enforcements_v13" not in indexes
    assert {"rule_enforcements_time", "rule_enforcements_rule"} <= indexes
    assert rows == 4


async def test_tag_and_enforcement_lookups_search_an_index(tmp_path: Path) -> None:
    """Each statement the repositories run, planned with its own arguments."""
    path = tmp_path / "plans.db"
    store = SqliteStore(path)
    await store.open()
    ran: list[tuple[str, tuple[Any, ...]]] = []
    database = store._db  # type: ignore[union-attr]
    real_read = database.read

    async def recording_read(fn: Callable[..., Any], sql: str, args: Any) -> Any:
        ran.append((sql, tuple(args)))
        return await real_read(fn, sql, args)

    database.read = recording_read
    try:
        await store.traces.recent(tag="deploy-7")
        await store.rule_enforcements.list(trigger_instance_id="ti")
        await store.rule_enforcements.count(trigger_instance_id="ti")
        await store.rule_enforcements.list(rule_ref=RULE, trigger_instance_id="ti")
        await store.rule_enforcements.list(rule_ref=RULE)
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    try:
        plans = [
            " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", args))
            for sql, args in ran
        ]
    finally:
        conn.close()
    tags, by_instance, count, by_both, by_rule = plans
    assert "trigger_instances_trace_tag (trace_tag=?)" in tags
    assert "executions_trace_tag (trace_tag=?)" in tags
    unique = "INDEX sqlite_autoindex_rule_enforcements_2"  # _1 is the primary key
    assert f"{unique} (trigger_instance_id=?)" in by_instance
    assert f"{unique} (trigger_instance_id=?)" in count
    assert f"{unique} (trigger_instance_id=? AND rule_ref=?)" in by_both
    assert "rule_enforcements_rule (rule_ref=?)" in by_rule
    for plan in plans:
        assert "SCAN trigger_instances" not in plan and "SCAN executions" not in plan
        assert "SCAN rule_enforcements" not in plan, plan

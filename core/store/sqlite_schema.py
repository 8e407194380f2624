"""SQLite schema as ordered forward migrations; version N is ``MIGRATIONS[N - 1]``.

Never edit a released migration: append a new one. Opening an older file upgrades it inside one
``BEGIN IMMEDIATE`` transaction (SQLite DDL is transactional), so two processes opening the same
old file cannot both migrate it, and a failed upgrade leaves the file as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from core.store.base import StoreError

Migration = Sequence[str]

# v1: executions with the columns that the engine's hot paths (CAS, claim, GC, listing) filter
# on; the whole record stays in ``doc`` so adding a model field needs no migration.
V1_EXECUTIONS: Migration = (
    """CREATE TABLE executions (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        action_ref TEXT NOT NULL,
        start_timestamp TEXT NOT NULL,
        end_timestamp TEXT,
        owner TEXT,
        lease_expires TEXT,
        doc TEXT NOT NULL
    )""",
    "CREATE INDEX executions_started ON executions (start_timestamp, id)",
    "CREATE INDEX executions_status ON executions (status, start_timestamp, id)",
    "CREATE INDEX executions_action ON executions (action_ref, start_timestamp, id)",
)

# v2: list by requesting user ("my executions" in chat) and by parent workflow; existing rows
# are backfilled from their JSON document.
V2_USER_PARENT: Migration = (
    "ALTER TABLE executions ADD COLUMN user TEXT",
    "ALTER TABLE executions ADD COLUMN parent TEXT",
    """UPDATE executions SET
        user = CASE WHEN json_type(doc, '$.context.user') = 'text'
                    THEN json_extract(doc, '$.context.user') END,
        parent = json_extract(doc, '$.parent')""",
    "CREATE INDEX executions_user ON executions (user, start_timestamp, id)",
    "CREATE INDEX executions_parent ON executions (parent, start_timestamp, id)"
    " WHERE parent IS NOT NULL",
)

# v3: the key-value datastore (st2-format §12). Expiry is fixed-width UTC text like the
# executions' timestamps; the partial index serves the TTL sweep without indexing keys that
# never expire.
V3_KV: Migration = (
    """CREATE TABLE kv (
        scope TEXT NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        secret INTEGER NOT NULL,
        encrypted INTEGER NOT NULL,
        expire_timestamp TEXT,
        description TEXT NOT NULL,
        PRIMARY KEY (scope, name)
    )""",
    "CREATE INDEX kv_expire ON kv (expire_timestamp) WHERE expire_timestamp IS NOT NULL",
)

# v4: trigger instances and rule enforcements (st2-format §4.2, §5). The unique indexes are the
# idempotency guarantees: one instance per (trigger, dedupe_key) so a replayed delivery is stored
# once, and one enforcement per (rule, instance) so re-evaluation after a crash cannot
# double-fire (security §2.6).
V4_EVENTS: Migration = (
    """CREATE TABLE trigger_instances (
        id TEXT PRIMARY KEY,
        trigger TEXT NOT NULL,
        status TEXT NOT NULL,
        occurrence_time TEXT NOT NULL,
        dedupe_key TEXT,
        doc TEXT NOT NULL
    )""",
    "CREATE UNIQUE INDEX trigger_instances_dedupe ON trigger_instances (trigger, dedupe_key)"
    " WHERE dedupe_key IS NOT NULL",
    "CREATE INDEX trigger_instances_time ON trigger_instances (occurrence_time, id)",
    "CREATE INDEX trigger_instances_trigger ON trigger_instances (trigger, occurrence_time, id)",
    "CREATE INDEX trigger_instances_status ON trigger_instances (status, occurrence_time, id)",
    """CREATE TABLE rule_enforcements (
        id TEXT PRIMARY KEY,
        rule_ref TEXT NOT NULL,
        trigger_instance_id TEXT NOT NULL,
        execution_id TEXT,
        enforced_at TEXT NOT NULL,
        doc TEXT NOT NULL,
        UNIQUE (rule_ref, trigger_instance_id)
    )""",
    "CREATE INDEX rule_enforcements_time ON rule_enforcements (enforced_at, id)",
    "CREATE INDEX rule_enforcements_rule ON rule_enforcements (rule_ref, enforced_at, id)",
    "CREATE INDEX rule_enforcements_instance"
    " ON rule_enforcements (trigger_instance_id, enforced_at, id)",
)

# v5: webhook API keys (only a hash is stored) and rule enable/disable overrides set from the
# CLI on top of the pack files' ``enabled``.
V5_KEYS_RULE_STATES: Migration = (
    """CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        key_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT,
        doc TEXT NOT NULL
    )""",
    """CREATE TABLE rule_states (
        ref TEXT PRIMARY KEY,
        enabled INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        doc TEXT NOT NULL
    )""",
)

# v6: approvals (one decision wins: CAS on status) and the audit log of chat decisions.
V6_APPROVALS_AUDIT: Migration = (
    """CREATE TABLE approvals (
        id TEXT PRIMARY KEY,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        doc TEXT NOT NULL
    )""",
    "CREATE INDEX approvals_status ON approvals (status, created_at, id)",
    "CREATE INDEX approvals_expiry ON approvals (expires_at) WHERE expires_at IS NOT NULL",
    """CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        user TEXT,
        doc TEXT NOT NULL
    )""",
    "CREATE INDEX audit_at ON audit (at, seq)",
    "CREATE INDEX audit_user ON audit (user, at, seq)",
)

# v7: workflow conductor states, saved incrementally (sqlite_workflows): one head per workflow
# with the version its compare-and-set moves, and each record at the version that wrote it.
V7_WORKFLOWS: Migration = (
    """CREATE TABLE workflow_heads (
        id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        head TEXT NOT NULL
    )""",
    """CREATE TABLE workflow_records (
        workflow_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        version INTEGER NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (workflow_id, kind, key, version)
    ) WITHOUT ROWID""",
)

# v8: cluster leases (one holder per job: timers, sensors, a chat platform) and the outbox of
# work stored by one process for the process that owns its channel (sqlite_leases).
V8_LEASES_OUTBOX: Migration = (
    """CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        expires TEXT NOT NULL,
        acquired_at TEXT NOT NULL
    )""",
    """CREATE TABLE outbox (
        id TEXT PRIMARY KEY,
        channel TEXT NOT NULL,
        created_at TEXT NOT NULL,
        holder TEXT,
        claim_expires TEXT,
        doc TEXT NOT NULL
    )""",
    "CREATE INDEX outbox_channel ON outbox (channel, created_at, id)",
)

# v9: traces (core.observe.traces) are read from the records that carry a trace context; these
# expression indexes make the lookups by trace id and tag index searches. Nothing is written.
V9_TRACES: Migration = (
    "CREATE INDEX trigger_instances_trace ON trigger_instances"
    " (json_extract(doc, '$.trace_context.id_'), occurrence_time)",
    "CREATE INDEX trigger_instances_trace_tag ON trigger_instances"
    " (json_extract(doc, '$.trace_context.trace_tag'), occurrence_time)",
    "CREATE INDEX executions_trace ON executions"
    " (json_extract(doc, '$.context.trace_context.id_'), start_timestamp)",
    "CREATE INDEX executions_trace_tag ON executions"
    " (json_extract(doc, '$.context.trace_context.trace_tag'), start_timestamp)",
)

# v10: REST API credentials: password hashes of users who may log in, and auth tokens (only a
# hash of each; expiry indexed for the garbage collector), and top-level executions indexed.
V10_CREDENTIALS: Migration = (
    """CREATE TABLE passwords (
        user TEXT PRIMARY KEY,
        hash TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        user TEXT NOT NULL,
        expiry TEXT NOT NULL,
        revoked_at TEXT,
        doc TEXT NOT NULL
    )""",
    "CREATE INDEX tokens_expiry ON tokens (expiry)",
    # The API's default execution list (st2's ``parent=null``): top-level runs, newest first.
    "CREATE INDEX executions_top ON executions (start_timestamp, id) WHERE parent IS NULL",
)

# v11: the top-level index carries ``parent`` so that counting top-level executions (the API's
# X-Total-Count for st2's ``parent=null``) reads the index alone: 27 → 3 ms at 100,000 rows.
V11_TOP_LEVEL_COVERING: Migration = (
    "DROP INDEX executions_top",
    "CREATE INDEX executions_top ON executions (start_timestamp, id, parent) WHERE parent IS NULL",
)

# v12: the trace id and tag are columns the writer fills (from the record it already has),
# no longer expression indexes over the JSON document: those made SQLite parse the document
# twice at every insert and at every update of it (a settle's status, each execution CAS):
# 18 → 12 µs of CPU per trigger instance insert (batches of 10, bench-like rows), ~15 µs per
# webhook event in all. Same lookups, same plans.
V12_TRACE_COLUMNS: Migration = (
    "ALTER TABLE trigger_instances ADD COLUMN trace_id TEXT",
    "ALTER TABLE trigger_instances ADD COLUMN trace_tag TEXT",
    "UPDATE trigger_instances SET trace_id = json_extract(doc, '$.trace_context.id_'),"
    " trace_tag = json_extract(doc, '$.trace_context.trace_tag')",
    "DROP INDEX trigger_instances_trace",
    "DROP INDEX trigger_instances_trace_tag",
    "CREATE INDEX trigger_instances_trace ON trigger_instances (trace_id, occurrence_time)",
    "CREATE INDEX trigger_instances_trace_tag ON trigger_instances (trace_tag, occurrence_time)",
    "ALTER TABLE executions ADD COLUMN trace_id TEXT",
    "ALTER TABLE executions ADD COLUMN trace_tag TEXT",
    "UPDATE executions SET trace_id = json_extract(doc, '$.context.trace_context.id_'),"
    " trace_tag = json_extract(doc, '$.context.trace_context.trace_tag')",
    "DROP INDEX executions_trace",
    "DROP INDEX executions_trace_tag",
    "CREATE INDEX executions_trace ON executions (trace_id, start_timestamp)",
    "CREATE INDEX executions_trace_tag ON executions (trace_tag, start_timestamp)",
)

# v13: fewer B-trees per webhook event (its instance, enforcement and execution are ~20 index
# inserts in one transaction), same lookups:
# - the trace tag indexes hold only rows that have a tag (most have none: every trigger instance
#   and execution gets a trace id, a tag only when the caller gave one); ``trace_tag = ?``
#   implies ``trace_tag IS NOT NULL``, so the tag lookups still search them;
# - an enforcement's uniqueness key leads with the instance, so it also serves the lookup by
#   instance (an instance has a few enforcements, sorted in memory) and that index goes; the
#   table is rebuilt because a table's UNIQUE constraint cannot be changed in place.
V13_FEWER_INDEXES: Migration = (
    "DROP INDEX trigger_instances_trace_tag",
    "CREATE INDEX trigger_instances_trace_tag ON trigger_instances (trace_tag, occurrence_time)"
    " WHERE trace_tag IS NOT NULL",
    "DROP INDEX executions_trace_tag",
    "CREATE INDEX executions_trace_tag ON executions (trace_tag, start_timestamp)"
    " WHERE trace_tag IS NOT NULL",
    """CREATE TABLE rule_enforcements_v13 (
        id TEXT PRIMARY KEY,
        rule_ref TEXT NOT NULL,
        trigger_instance_id TEXT NOT NULL,
        execution_id TEXT,
        enforced_at TEXT NOT NULL,
        doc TEXT NOT NULL,
        UNIQUE (trigger_instance_id, rule_ref)
    )""",
    "INSERT INTO rule_enforcements_v13"
    " (id, rule_ref, trigger_instance_id, execution_id, enforced_at, doc)"
    " SELECT id, rule_ref, trigger_instance_id, execution_id, enforced_at, doc"
    " FROM rule_enforcements",
    "DROP TABLE rule_enforcements",  # and its indexes
    "ALTER TABLE rule_enforcements_v13 RENAME TO rule_enforcements",
    "CREATE INDEX rule_enforcements_time ON rule_enforcements (enforced_at, id)",
    "CREATE INDEX rule_enforcements_rule ON rule_enforcements (rule_ref, enforced_at, id)",
)

MIGRATIONS: tuple[Migration, ...] = (
    V1_EXECUTIONS,
    V2_USER_PARENT,
    V3_KV,
    V4_EVENTS,
    V5_KEYS_RULE_STATES,
    V6_APPROVALS_AUDIT,
    V7_WORKFLOWS,
    V8_LEASES_OUTBOX,
    V9_TRACES,
    V10_CREDENTIALS,
    V11_TOP_LEVEL_COVERING,
    V12_TRACE_COLUMNS,
    V13_FEWER_INDEXES,
)
LATEST = len(MIGRATIONS)

_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL
)"""


def current_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, path: Path | str) -> int:
    """Bring the file at ``path`` up to ``LATEST``; returns the version it started at."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(_VERSION_TABLE)
        start = current_version(conn)
        if start > LATEST:
            raise StoreError(
                f"SQLite store {path} has schema version {start}, newer than this Squall "
                f"supports ({LATEST}); upgrade Squall or point store.url at another file"
            )
        for version in range(start + 1, LATEST + 1):
            _apply(conn, version)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return start


def _apply(conn: sqlite3.Connection, version: int) -> None:
    for statement in MIGRATIONS[version - 1]:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
        (version, datetime.now(UTC).isoformat()),
    )

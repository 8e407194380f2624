"""The Store contract, run unchanged on every backend (see conftest.make_store).

Backend-specific behaviour (SQLite files, URLs, migrations) is tested at the end of the file.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.models import Execution, ExecutionStatus, StatusChange
from core.store import (
    DocumentRejected,
    ExecutionQuery,
    Store,
    StoreError,
    open_store,
    sqlite_schema,
)
from core.store.mongo import SCHEMA_VERSION as MONGO_SCHEMA_VERSION
from core.store.mongo import SERVER_SELECTION_TIMEOUT_MS, MongoStore, _make_client, client_options
from core.store.sqlite import SqliteOptions, SqliteStore, StoreBusy
from core.store.sqlite_db import connect

from .conftest import StoreFactory

S = ExecutionStatus
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make(
    start: float = 0.0,
    *,
    status: ExecutionStatus = S.REQUESTED,
    action_ref: str = "core.local",
    user: str | None = "alice",
    parent: str | None = None,
    **changes: Any,
) -> Execution:
    context = {"user": user} if user is not None else {}
    execution = Execution.request(action_ref, "local-shell-cmd", {"cmd": "true"}, context, parent)
    return execution.with_changes(status=status, start_timestamp=at(start), **changes)


async def insert_all(store: Store, *executions: Execution) -> None:
    for execution in executions:
        await store.executions.insert(execution)


def ids(executions: list[Execution]) -> list[str]:
    return [e.id for e in executions]


# -- records ------------------------------------------------------------------------------


async def test_insert_then_get_round_trips_every_field(store: Store) -> None:
    execution = Execution(
        id="65f0c0ffee00000000000001",
        action_ref="examples.deploy",
        runner_type="orquesta",
        status=S.SUCCEEDED,
        parameters={"hosts": ["a", "b"], "retries": 3, "dry": False, "note": "héllo ✓"},
        result={"stdout": "ok\n", "nested": {"list": [1, 2.5, None, {"k": "v"}]}},
        context={"user": "bob", "rule": {"ref": "pack.rule"}, "orquesta": {"task_name": "t1"}},
        start_timestamp=datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC),
        end_timestamp=datetime(2024, 5, 1, 12, 0, 1, 250_001, tzinfo=UTC),
        log=(
            StatusChange(S.REQUESTED, datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)),
            StatusChange(S.SUCCEEDED, datetime(2024, 5, 1, 12, 0, 1, 250_001, tzinfo=UTC)),
        ),
        parent="65f0c0ffee00000000000000",
        children=("c1", "c2"),
        owner="host:123:boot",
        pgid=4242,
        lease_expires=datetime(2024, 5, 1, 12, 5, 0, 7, tzinfo=UTC),
    )
    await store.executions.insert(execution)
    assert await store.executions.get(execution.id) == execution


async def test_get_missing_returns_none(store: Store) -> None:
    assert await store.executions.get("0" * 24) is None


async def test_insert_of_an_existing_id_raises(store: Store) -> None:
    execution = make()
    await store.executions.insert(execution)
    with pytest.raises(StoreError, match=execution.id):
        await store.executions.insert(execution.with_changes(action_ref="other.action"))
    assert await store.executions.get(execution.id) == execution


async def test_a_failing_write_does_not_undo_concurrent_ones(store: Store) -> None:
    existing = make()
    await store.executions.insert(existing)
    fresh = [make(i) for i in range(30)]
    results = await asyncio.gather(
        *(store.executions.insert(e) for e in fresh[:15]),
        store.executions.insert(existing),
        *(store.executions.insert(e) for e in fresh[15:]),
        return_exceptions=True,
    )
    errors = [r for r in results if r is not None]
    assert len(errors) == 1 and isinstance(errors[0], StoreError)
    assert await store.executions.count(ExecutionQuery()) == 31


# Keys MongoDB refuses as field names; the user data may hold any of them.
AWKWARD = {"a.b": 1, "$x": {"c.d": [{"$y": None}]}, "c\\d": "v.a.l", "plain": "$z"}


async def test_keys_mongo_refuses_round_trip_exactly(store: Store) -> None:
    execution = make(parameters={"headers": {"content.type": "json"}}, result=AWKWARD)
    execution = execution.with_changes(context={**execution.context, "$ref": {"x.y": 1}})
    await store.executions.insert(execution)
    assert await store.executions.get(execution.id) == execution
    assert await store.executions.list(ExecutionQuery(user="alice")) == [execution]

    claimed = await store.executions.claim("w1", at(60), at(0))
    assert claimed == execution.with_changes(owner="w1", lease_expires=at(60))
    changed = claimed.transition(S.SCHEDULED, result={**AWKWARD, "more.keys": {"$": "\\."}})
    assert await store.executions.replace(changed, expected_status=S.REQUESTED)
    assert await store.executions.get(execution.id) == changed


# -- listing ------------------------------------------------------------------------------


async def test_list_filters_by_status_action_user_and_parent(store: Store) -> None:
    root = make(0, status=S.RUNNING, action_ref="wf.main")
    child = make(1, status=S.SUCCEEDED, parent=root.id)
    other = make(2, status=S.FAILED, action_ref="core.http", user="bob")
    anonymous = make(3, user=None)
    await insert_all(store, root, child, other, anonymous)

    async def listed(**filters: Any) -> list[str]:
        return ids(await store.executions.list(ExecutionQuery(**filters)))

    assert await listed(statuses=(S.SUCCEEDED, S.FAILED)) == [other.id, child.id]
    assert await listed(action_ref="core.local") == [anonymous.id, child.id]
    assert await listed(user="alice") == [child.id, root.id]
    assert await listed(user="bob") == [other.id]
    assert await listed(parent=root.id) == [child.id]
    assert await listed(statuses=(S.RUNNING,), user="alice", action_ref="wf.main") == [root.id]
    assert await listed(statuses=(S.RUNNING,), user="bob") == []


async def test_list_is_newest_first_then_id_descending(store: Store) -> None:
    # 0 s and 0.5 s: ISO text without a fraction would sort after one with a fraction.
    whole, half, later = make(0), make(0.5), make(1)
    same = sorted((make(2), make(2), make(2)), key=lambda e: e.id)
    await insert_all(store, half, *same, whole, later)
    listed = await store.executions.list(ExecutionQuery())
    assert ids(listed) == [*reversed(ids(same)), later.id, half.id, whole.id]
    # st2's sort_asc: the exact reverse, paged from the oldest.
    oldest = await store.executions.list(ExecutionQuery(oldest_first=True, limit=3, offset=1))
    assert ids(oldest) == [half.id, later.id, ids(same)[0]]


async def test_list_pages_with_limit_and_offset(store: Store) -> None:
    executions = [make(i) for i in range(7)]
    await insert_all(store, *executions)
    newest_first = list(reversed(ids(executions)))

    async def page(limit: int, offset: int) -> list[str]:
        return ids(await store.executions.list(ExecutionQuery(limit=limit, offset=offset)))

    assert await page(3, 0) == newest_first[:3]
    assert await page(3, 3) == newest_first[3:6]
    assert await page(3, 6) == newest_first[6:]
    assert await page(3, 9) == []
    assert await page(0, 2) == newest_first[2:], "limit 0 means no limit"


async def test_count_applies_filters_but_not_paging(store: Store) -> None:
    await insert_all(store, make(0), make(1), make(2, status=S.RUNNING), make(3, user="bob"))
    count = store.executions.count
    assert await count(ExecutionQuery()) == 4
    assert await count(ExecutionQuery(limit=1, offset=1)) == 4
    assert await count(ExecutionQuery(statuses=(S.REQUESTED,))) == 3
    assert await count(ExecutionQuery(statuses=(S.REQUESTED,), user="alice")) == 2
    assert await count(ExecutionQuery(action_ref="nope")) == 0


# -- compare-and-set ----------------------------------------------------------------------


async def test_replace_wins_only_while_the_expected_status_holds(store: Store) -> None:
    requested = make()
    await store.executions.insert(requested)
    scheduled = requested.transition(S.SCHEDULED)
    assert await store.executions.replace(scheduled, expected_status=S.REQUESTED)
    assert await store.executions.get(requested.id) == scheduled

    stale = requested.transition(S.CANCELED)
    assert not await store.executions.replace(stale, expected_status=S.REQUESTED)
    assert await store.executions.get(requested.id) == scheduled


async def test_replace_of_a_missing_execution_loses(store: Store) -> None:
    assert not await store.executions.replace(make(), expected_status=S.REQUESTED)


async def test_two_concurrent_replaces_exactly_one_wins(store: Store) -> None:
    requested = make()
    await store.executions.insert(requested)
    running = requested.transition(S.SCHEDULED)
    canceled = requested.transition(S.CANCELED)
    wins = await asyncio.gather(
        store.executions.replace(running, expected_status=S.REQUESTED),
        store.executions.replace(canceled, expected_status=S.REQUESTED),
    )
    assert sorted(wins) == [False, True]
    winner = running if wins[0] else canceled
    assert await store.executions.get(requested.id) == winner


# -- claims and leases --------------------------------------------------------------------


async def test_claim_takes_the_oldest_requested_first(store: Store) -> None:
    old_running = make(0, status=S.RUNNING)
    newer, oldest, middle = make(30), make(10), make(20)
    await insert_all(store, old_running, newer, oldest, middle)
    lease = at(1000)
    claimed = [await store.executions.claim("w1", lease, at(100)) for _ in range(4)]
    assert [c.id if c else None for c in claimed] == [oldest.id, middle.id, newer.id, None]
    for execution in claimed[:3]:
        assert execution is not None
        assert (execution.owner, execution.lease_expires, execution.status) == (
            "w1",
            lease,
            S.REQUESTED,
        )
        assert await store.executions.get(execution.id) == execution


async def test_claim_skips_live_leases_and_takes_expired_ones(store: Store) -> None:
    first, second = make(0), make(1)
    await insert_all(store, first, second)
    assert (await store.executions.claim("w1", at(60), at(0))) == first.with_changes(
        owner="w1", lease_expires=at(60)
    )
    live = await store.executions.claim("w2", at(90), at(30))
    assert live is not None and live.id == second.id, "w1's lease on the first is still live"
    assert await store.executions.claim("w2", at(90), at(59)) is None

    taken_over = await store.executions.claim("w2", at(120), at(61))
    assert taken_over is not None
    assert (taken_over.id, taken_over.owner, taken_over.lease_expires) == (first.id, "w2", at(120))


async def test_concurrent_claims_never_share_an_execution(store: Store) -> None:
    executions = [make(i) for i in range(20)]
    await insert_all(store, *executions)
    claimed = await asyncio.gather(
        *(store.executions.claim(f"w{i}", at(600), at(100)) for i in range(25))
    )
    got = [c.id for c in claimed if c is not None]
    assert sorted(got) == sorted(ids(executions))


async def test_renew_lease_only_by_its_owner(store: Store) -> None:
    execution = make()
    await store.executions.insert(execution)
    await store.executions.claim("w1", at(60), at(0))
    assert not await store.executions.renew_lease(execution.id, "w2", at(600))
    assert await store.executions.renew_lease(execution.id, "w1", at(120))
    assert not await store.executions.renew_lease("0" * 24, "w1", at(120))
    stored = await store.executions.get(execution.id)
    assert stored is not None
    assert (stored.owner, stored.lease_expires) == ("w1", at(120))
    assert await store.executions.claim("w2", at(600), at(100)) is None


async def test_delete_completed_before_keeps_recent_and_unfinished(store: Store) -> None:
    old_done = make(0, status=S.SUCCEEDED, end_timestamp=at(10))
    old_failed = make(0, status=S.ABANDONED, end_timestamp=at(20))
    recent_done = make(0, status=S.FAILED, end_timestamp=at(200))
    running = make(0, status=S.RUNNING)
    requested = make(0)
    await insert_all(store, old_done, old_failed, recent_done, running, requested)

    assert await store.executions.delete_completed_before(at(100)) == 2
    left = await store.executions.list(ExecutionQuery())
    assert sorted(ids(left)) == sorted([recent_done.id, running.id, requested.id])
    assert await store.executions.delete_completed_before(at(100)) == 0


# -- lifecycle ----------------------------------------------------------------------------


async def test_reopen_sees_committed_data(make_store: StoreFactory) -> None:
    first = make_store()
    await first.open()
    execution = make()
    scheduled = execution.transition(S.SCHEDULED)
    await first.executions.insert(execution)
    assert await first.executions.replace(scheduled, expected_status=S.REQUESTED)
    await first.close()

    second = make_store()
    await second.open()
    assert await second.executions.get(execution.id) == scheduled
    assert await second.schema_version() == _latest(second)
    await second.close()


async def test_schema_version_is_the_latest(store: Store) -> None:
    assert await store.schema_version() == _latest(store)


async def test_executions_before_open_raises(make_store: StoreFactory) -> None:
    with pytest.raises(StoreError, match="not open"):
        _ = make_store().executions


def _latest(store: Store) -> int:
    return sqlite_schema.LATEST if store.backend == "sqlite" else MONGO_SCHEMA_VERSION


# -- SQLite specifics ---------------------------------------------------------------------

V1_SCHEMA = """
CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);
INSERT INTO schema_version VALUES (1, '2024-01-01T00:00:00+00:00');
CREATE TABLE executions (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, action_ref TEXT NOT NULL,
    start_timestamp TEXT NOT NULL, end_timestamp TEXT, owner TEXT, lease_expires TEXT,
    doc TEXT NOT NULL
);
CREATE INDEX executions_started ON executions (start_timestamp, id);
CREATE INDEX executions_status ON executions (status, start_timestamp, id);
CREATE INDEX executions_action ON executions (action_ref, start_timestamp, id);
"""


def write_v1_file(path: Path, execution: Execution) -> None:
    """A file as the first released schema left it, written without the store's code."""
    conn = sqlite3.connect(path)
    try:
        conn.executescript(V1_SCHEMA)
        conn.execute(
            "INSERT INTO executions VALUES (?, ?, ?, ?, NULL, NULL, NULL, ?)",
            (
                execution.id,
                str(execution.status),
                execution.action_ref,
                "2024-05-01T12:00:00.000000Z",
                json.dumps(execution.to_doc()),
            ),
        )
        conn.commit()
    finally:
        conn.close()


async def test_sqlite_upgrades_an_older_file(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    execution = make(0, user="carol", parent="65f0c0ffee00000000000000")
    write_v1_file(path, execution)

    store = SqliteStore(path)
    await store.open()
    try:
        assert await store.schema_version() == sqlite_schema.LATEST
        assert await store.executions.get(execution.id) == execution
        by_user = await store.executions.list(ExecutionQuery(user="carol"))
        by_parent = await store.executions.list(ExecutionQuery(parent=execution.parent))
        assert ids(by_user) == ids(by_parent) == [execution.id]
        # v12 copied the trace id out of the document into its indexed column.
        trace_id = execution.context["trace_context"]["id_"]
        assert ids(await store.traces.executions(trace_id)) == [execution.id]
    finally:
        await store.close()
    conn = sqlite3.connect(path)
    try:
        versions = conn.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()
    finally:
        conn.close()
    assert versions == [(v,) for v in range(1, sqlite_schema.LATEST + 1)]


async def test_sqlite_refuses_a_file_newer_than_the_code(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    store = SqliteStore(path)
    await store.open()
    await store.close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO schema_version VALUES (99, 'future')")
    conn.close()

    with pytest.raises(StoreError, match=rf"{path}.*schema version 99.*newer"):
        await SqliteStore(path).open()


@pytest.mark.parametrize("kind", ["parent is a file", "path is a directory", "not a database"])
async def test_sqlite_open_errors_name_the_path(tmp_path: Path, kind: str) -> None:
    blocker = tmp_path / "blocker"
    if kind == "parent is a file":
        blocker.write_text("x")
        path = blocker / "sub" / "squall.db"
    elif kind == "path is a directory":
        path = tmp_path / "dir.db"
        path.mkdir()
    else:
        path = tmp_path / "garbage.db"
        path.write_bytes(b"this is not an SQLite file, just some text " * 100)
    store = SqliteStore(path)
    with pytest.raises(StoreError, match=str(path)):
        await store.open()
    await store.close()


async def test_sqlite_url_resolves_relative_paths_against_base_dir(tmp_path: Path) -> None:
    relative = open_store("sqlite:///var/squall.db", base_dir=str(tmp_path))
    absolute = open_store(f"sqlite:///{tmp_path}/abs.db?synchronous=FULL&busy_timeout=250")
    assert isinstance(relative, SqliteStore) and isinstance(absolute, SqliteStore)
    assert relative.path == tmp_path / "var" / "squall.db"
    assert absolute.path == tmp_path / "abs.db"
    assert absolute.options == SqliteOptions(synchronous="full", busy_timeout_ms=250)

    await relative.open()
    await relative.executions.insert(make())
    await relative.close()
    assert relative.path.is_file(), "parent folders are created"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://host/x.db",
        "sqlite:///",
        "sqlite:///x.db?synchronous=off",
        "sqlite:///x.db?journal=delete",
        "sqlite:///x.db?busy_timeout=soon",
    ],
)
def test_sqlite_url_errors(url: str) -> None:
    with pytest.raises(StoreError, match=r"store\.url"):
        open_store(url)


def test_sqlite_connection_pragmas(tmp_path: Path) -> None:
    conn = connect(tmp_path / "p.db", SqliteOptions(synchronous="full", busy_timeout_ms=1234))
    try:
        pragmas = {
            name: conn.execute(f"PRAGMA {name}").fetchone()[0]
            for name in ("journal_mode", "synchronous", "wal_autocheckpoint", "busy_timeout")
        }
    finally:
        conn.close()
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 2,
        "wal_autocheckpoint": 0,
        "busy_timeout": 1234,
    }


async def test_sqlite_checkpoint_thread_copies_the_wal_into_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cp.db"
    store = SqliteStore(path, SqliteOptions(checkpoint_interval=0.02))
    await store.open()
    try:
        before = path.stat().st_size
        await insert_all(store, *(make(i) for i in range(50)))
        for _ in range(500):  # up to 10 s
            if path.stat().st_size > before:
                break
            await asyncio.sleep(0.02)
        assert path.stat().st_size > before, "no checkpoint reached the database file"
    finally:
        await store.close()


async def test_sqlite_closed_store_refuses_work(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "closed.db")
    await store.open()
    executions = store.executions
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await executions.insert(make())
    with pytest.raises(StoreError, match="not open"):
        await store.schema_version()


async def test_sqlite_in_memory_store() -> None:
    store = open_store("sqlite:///:memory:")
    await store.open()
    execution = make()
    await store.executions.insert(execution)
    assert await store.executions.get(execution.id) == execution
    await store.close()


async def test_sqlite_two_connections_to_one_file_share_cas(tmp_path: Path) -> None:
    one, two = SqliteStore(tmp_path / "s.db"), SqliteStore(tmp_path / "s.db")
    await one.open()
    await two.open()
    try:
        requested = make()
        await one.executions.insert(requested)
        assert await two.executions.replace(
            requested.transition(S.SCHEDULED), expected_status=S.REQUESTED
        )
        assert not await one.executions.replace(
            requested.transition(S.CANCELED), expected_status=S.REQUESTED
        )
        stored = await one.executions.get(requested.id)
        assert stored is not None and stored.status == S.SCHEDULED
    finally:
        await one.close()
        await two.close()


# -- MongoDB specifics --------------------------------------------------------------------


async def test_mongo_refuses_a_database_newer_than_the_code(mongo_db: tuple[Any, str]) -> None:
    client, name = mongo_db
    await client[name]["meta"].update_one({"_id": "schema"}, {"$set": {"version": 99}}, upsert=True)
    with pytest.raises(StoreError, match=r"schema version 99.*newer"):
        await MongoStore(client, database=name).open()


async def test_mongo_open_creates_indexes(mongo_db: tuple[Any, str]) -> None:
    client, name = mongo_db
    store = MongoStore(client, database=name)
    await store.open()
    names = set(await client[name]["executions"].index_information())
    assert {"started", "status", "action", "user", "parent", "ended"} <= names
    await store.close()


async def test_mongo_stores_awkward_keys_escaped(mongo_db: tuple[Any, str]) -> None:
    client, name = mongo_db
    store = MongoStore(client, database=name)
    await store.open()
    execution = make(result=AWKWARD)
    await store.executions.insert(execution)
    raw = await client[name]["executions"].find_one({"_id": execution.id})
    await store.close()
    assert raw["result"] == {
        "a\\u002eb": 1,
        "\\u0024x": {"c\\u002ed": [{"\\u0024y": None}]},
        "c\\\\d": "v.a.l",
        "plain": "$z",
    }
    assert raw["context"]["user"] == "alice", "the indexed context.user is left alone"
    # And so is the indexed trace id (mongo_traces looks executions up by it).
    assert raw["context"]["trace_context"] == execution.context["trace_context"]


@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("mongodb://db/squall", {"serverSelectionTimeoutMS": SERVER_SELECTION_TIMEOUT_MS}),
        ("mongodb://bot:s3cret@db1,db2/?replicaSet=rs0", {"serverSelectionTimeoutMS": 5000}),
        ("mongodb+srv://cluster.example.com/?retryWrites=true", {"serverSelectionTimeoutMS": 5000}),
        ("mongodb://db/?serverSelectionTimeoutMS=200", {}),
        ("mongodb://db/?w=1&serverselectiontimeoutms=60000", {}),
        ("mongodb://db?SERVERSELECTIONTIMEOUTMS=1", {}),
        ("mongodb://[::1/", {"serverSelectionTimeoutMS": 5000}),
    ],
)
def test_mongo_client_options_default_the_server_selection_timeout(
    url: str, options: dict[str, Any]
) -> None:
    assert client_options(url) == options


@pytest.mark.parametrize(
    ("url", "seconds"),
    [
        ("mongodb://127.0.0.1:1/x", 5.0),
        ("mongodb://127.0.0.1:1/x?serverSelectionTimeoutMS=250", 0.25),
    ],
)
@pytest.mark.parametrize("driver", ["motor", "pymongo-async"])
async def test_mongo_client_gets_the_timeout_without_a_server(
    url: str, seconds: float, driver: str
) -> None:
    client = _make_client(url, driver)  # connects lazily, so no server is needed
    try:
        assert client.options.server_selection_timeout == seconds
    finally:
        closed = client.close()  # PyMongo's async client returns a coroutine
        if closed is not None:
            await closed


async def test_the_factory_builds_the_configured_driver() -> None:
    from motor.motor_asyncio import AsyncIOMotorClient
    from pymongo import AsyncMongoClient

    url = "mongodb://127.0.0.1:1/x"
    motor_store = open_store(url)
    pymongo_store = open_store(url, driver="pymongo-async")
    assert isinstance(motor_store, MongoStore) and isinstance(pymongo_store, MongoStore)
    motor_client = _make_client(url, motor_store.driver)
    pymongo_client = _make_client(url, pymongo_store.driver)
    assert isinstance(motor_client, AsyncIOMotorClient)
    assert isinstance(pymongo_client, AsyncMongoClient)
    motor_client.close()
    await pymongo_client.close()
    with pytest.raises(StoreError, match=r"store\.driver: unknown driver 'pymango'"):
        _make_client(url, "pymango")


@pytest.mark.parametrize(
    "url",
    ["mongodb://bot:s3cret@db:notaport/x", "mongodb://bot:s3cret@/x", "mongodb://bot:s3:cret@db/"],
)
async def test_mongo_bad_url_is_a_store_error_without_the_password(url: str) -> None:
    store = open_store(url)
    with pytest.raises(StoreError, match="MongoDB") as raised:
        await store.open()
    assert "s3cret" not in str(raised.value) and "cret" not in str(raised.value)


async def test_mongo_url_names_database_and_hides_password() -> None:
    store = open_store("mongomock://localhost/teamdb")
    assert isinstance(store, MongoStore) and store.database_name == "teamdb"
    await store.open()
    execution = make()
    await store.executions.insert(execution)
    assert await store.executions.get(execution.id) == execution
    await store.close()

    secret = MongoStore.from_url("mongodb://bot:s3cret@db1:27017,db2:27017/?replicaSet=rs0")
    assert secret.database_name == "squall"
    assert "s3cret" not in secret.where and "bot:***@db1" in secret.where


async def test_sqlite_waits_for_another_writer_without_blocking_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    store = SqliteStore(path)
    await store.open()
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another process's write lock
        execution = make()
        pending = asyncio.create_task(store.executions.insert(execution))
        claiming = asyncio.create_task(store.executions.claim("w1", at(60), at(0)))
        await asyncio.sleep(0.05)  # the loop runs this coroutine while both wait
        assert not pending.done() and not claiming.done()
        blocker.execute("COMMIT")
        async with asyncio.timeout(10):
            await pending
            claimed = await claiming
        assert claimed is None or claimed.id == execution.id
    finally:
        blocker.close()
        await store.close()


async def test_sqlite_gives_up_after_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    store = SqliteStore(path, SqliteOptions(busy_timeout_ms=50))
    await store.open()
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreBusy, match=rf"{path}.*locked"):
            async with asyncio.timeout(10):
                await store.executions.insert(make())
        blocker.execute("ROLLBACK")
        assert await store.executions.count(ExecutionQuery()) == 0
    finally:
        blocker.close()
        await store.close()


async def test_mongo_unreachable_server_is_a_store_error_without_the_password() -> None:
    # Port 1 on loopback refuses connections at once; the short timeout bounds the wait.
    url = "mongodb://bot:s3cret@127.0.0.1:1/teamdb?serverSelectionTimeoutMS=200"
    store = open_store(url)
    with pytest.raises(StoreError, match=r"no server reachable: 127\.0\.0\.1:1") as raised:
        async with asyncio.timeout(30):
            await store.open()
    assert "s3cret" not in str(raised.value)
    assert "Topology Description" not in str(raised.value), "the driver's dump is cut"
    assert isinstance(store, MongoStore) and store.client is None, "the failed client is closed"


# -- documents a backend refuses ----------------------------------------------------------


async def test_a_document_past_16_mib_is_refused_as_a_store_error(store: Store) -> None:
    execution = make(result={"stdout": "o" * (9 << 20), "stderr": "e" * (8 << 20)})
    with pytest.raises(DocumentRejected, match="refused"):
        await store.executions.insert(execution)
    fits = make()
    await store.executions.insert(fits)
    with pytest.raises(DocumentRejected, match="refused"):
        await store.executions.replace(
            fits.with_changes(result=execution.result), expected_status=fits.status
        )
    assert await store.executions.get(fits.id) == fits


async def test_an_integer_past_64_bits_is_kept_or_refused_never_raw(store: Store) -> None:
    execution = make(result={"count": 2**70})
    if store.backend == "sqlite":
        await store.executions.insert(execution)
        assert await store.executions.get(execution.id) == execution
    else:
        with pytest.raises(DocumentRejected, match="8-byte ints"):
            await store.executions.insert(execution)
        assert await store.executions.get(execution.id) is None

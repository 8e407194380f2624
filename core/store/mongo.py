"""MongoDB store through motor, for teams that run several Squall processes on one database.

Only the API subset that PyMongo's ``AsyncMongoClient`` shares with motor is used (find_one,
find().sort().skip().limit().to_list(), insert_one, update_one, find_one_and_update, delete_many,
count_documents, create_index), so the driver is a choice made in ``_make_client`` alone:
``store.driver: motor`` (the default) or ``pymongo-async`` (PyMongo's ``AsyncMongoClient``, the
successor of the deprecated motor). ``mongomock://…`` URLs build a ``mongomock_motor`` client
(tests only).

Documents are ``Execution.to_doc()`` with ``_id`` in place of ``id``, the timestamps the
store filters or sorts on written as fixed-width UTC text, so string order is time order and
microseconds survive (BSON dates keep only milliseconds), and the keys of the user data
(parameters, result, context) escaped where MongoDB would refuse them (see mongo_keys).

A URL without ``serverSelectionTimeoutMS`` gets 5 s instead of PyMongo's 30 s, so a wrong URL
fails at startup in seconds.
"""

from __future__ import annotations

import functools
import inspect
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pymongo import ASCENDING

from core.store.backend import BackendStore, Repositories
from core.store.base import StoreError
from core.store.mongo_apikeys import MongoApiKeys
from core.store.mongo_apikeys import create_indexes as create_api_key_indexes
from core.store.mongo_approvals import MongoApprovals
from core.store.mongo_approvals import create_indexes as create_approval_indexes
from core.store.mongo_audit import MongoAudit
from core.store.mongo_audit import create_indexes as create_audit_indexes
from core.store.mongo_credentials import MongoCredentials
from core.store.mongo_credentials import create_indexes as create_credential_indexes
from core.store.mongo_errors import redact, store_errors
from core.store.mongo_events import (
    MongoRuleEnforcements,
    MongoTriggerInstances,
    instance_from_mongo,
)
from core.store.mongo_events import create_indexes as create_event_indexes
from core.store.mongo_executions import (
    NEWEST_FIRST,
    OLDEST_FIRST,
    MongoExecutions,
    execution_from_mongo,
)
from core.store.mongo_kv import MongoKeyValues
from core.store.mongo_kv import create_indexes as create_kv_indexes
from core.store.mongo_leases import MongoLeases, MongoOutbox
from core.store.mongo_leases import create_indexes as create_lease_indexes
from core.store.mongo_rule_states import MongoRuleStates
from core.store.mongo_traces import MongoTraces
from core.store.mongo_traces import create_indexes as create_trace_indexes
from core.store.mongo_workflows import MongoWorkflows
from core.store.mongo_workflows import create_indexes as create_workflow_indexes

DEFAULT_DATABASE = "squall"
# v2 added the ``kv`` collection (mongo_kv), v3 trigger instances and rule enforcements
# (mongo_events), v4 API keys (mongo_apikeys) and rule states (mongo_rule_states), v5
# approvals (mongo_approvals) and the audit log (mongo_audit), v6 leases and the outbox
# (mongo_leases), v7 trace indexes (mongo_traces), v8 REST API passwords and tokens
# (mongo_credentials).
SCHEMA_VERSION = 8
_SCHEMA_ID = "schema"
SERVER_SELECTION_TIMEOUT_MS = 5000
DRIVERS = ("motor", "pymongo-async")
DEFAULT_DRIVER = "motor"

# One list per schema version; every index a version adds, as (keys, options).
_INDEXES: tuple[tuple[tuple[list[tuple[str, int]], dict[str, Any]], ...], ...] = (
    (
        (NEWEST_FIRST, {"name": "started"}),
        ([("status", ASCENDING), *OLDEST_FIRST], {"name": "status"}),
        ([("action_ref", ASCENDING), *NEWEST_FIRST], {"name": "action"}),
        ([("context.user", ASCENDING), *NEWEST_FIRST], {"name": "user"}),
        ([("parent", ASCENDING), *NEWEST_FIRST], {"name": "parent"}),
        ([("status", ASCENDING), ("end_timestamp", ASCENDING)], {"name": "ended"}),
    ),
)


def _make_client(url: str, driver: str = DEFAULT_DRIVER) -> Any:
    """The one place a client is built: motor's or PyMongo's asyncio client."""
    if url.startswith("mongomock://"):
        from mongomock_motor import AsyncMongoMockClient

        return AsyncMongoMockClient()
    if driver == "pymongo-async":
        from pymongo import AsyncMongoClient

        return AsyncMongoClient(url, **client_options(url))
    if driver != "motor":
        raise StoreError(f"store.driver: unknown driver {driver!r} (use {' or '.join(DRIVERS)})")
    from motor.motor_asyncio import AsyncIOMotorClient

    return AsyncIOMotorClient(url, **client_options(url))


def client_options(url: str) -> dict[str, Any]:
    """Client keyword options beyond the URL's own: a short server selection timeout.

    Only added when the URL has none, since keyword options override the URL's.
    """
    try:
        names = {name.lower() for name, _ in parse_qsl(urlsplit(url).query)}
    except ValueError:
        names = set()  # the client's own URL parser reports what is wrong
    # URI option names are case-insensitive.
    if "serverselectiontimeoutms" in names:
        return {}
    return {"serverSelectionTimeoutMS": SERVER_SELECTION_TIMEOUT_MS}


def database_from_url(url: str) -> str:
    return unquote(urlsplit(url).path.lstrip("/")) or DEFAULT_DATABASE


class MongoStore(BackendStore):
    """The ``Store`` on MongoDB. Pass a ``client`` (e.g. ``AsyncMongoMockClient()``) or a ``url``.

    A client built from ``url`` is created in ``open()`` (motor binds to the running loop) and
    closed in ``close()``; a client passed in belongs to the caller.
    """

    backend: str = "mongo"

    def __init__(
        self,
        client: Any = None,
        *,
        database: str = DEFAULT_DATABASE,
        url: str | None = None,
        driver: str = DEFAULT_DRIVER,
    ) -> None:
        if client is None and url is None:
            raise StoreError("MongoStore needs a client or a url")
        self.client = client
        self.driver = driver
        self.database_name = database
        self._url = url
        self._owns_client = client is None

    @classmethod
    def from_url(
        cls, url: str, *, database: str | None = None, driver: str = DEFAULT_DRIVER
    ) -> MongoStore:
        return cls(database=database or database_from_url(url), url=url, driver=driver)

    @property
    def where(self) -> str:
        return f"MongoDB {redact(self._url) if self._url else 'client'} db {self.database_name}"

    async def open(self) -> None:
        if self._repositories is not None:
            return
        if self.client is None and self._url is not None:
            self.client = self._new_client(self._url)
        db = self.client[self.database_name]
        try:
            with store_errors(self.where):
                await _migrate(db, self.where)
        except BaseException:
            await self.close()
            raise
        errors = functools.partial(store_errors, self.where)
        executions = MongoExecutions(db["executions"], self.where)
        enforcements = MongoRuleEnforcements(db["rule_enforcements"], errors)
        self._repositories = Repositories(
            executions=executions,
            kv=MongoKeyValues(db["kv"], errors),
            trigger_instances=MongoTriggerInstances(
                db["trigger_instances"], errors, enforcements, executions
            ),
            rule_enforcements=enforcements,
            api_keys=MongoApiKeys(db["api_keys"], errors),
            rule_states=MongoRuleStates(db["rule_states"], errors),
            credentials=MongoCredentials(db["passwords"], db["tokens"], errors),
            approvals=MongoApprovals(db["approvals"], errors),
            audit=MongoAudit(db["audit"], errors),
            workflows=MongoWorkflows(
                db["workflow_heads"], db["workflow_records"], errors, executions
            ),
            leases=MongoLeases(db["leases"], errors),
            outbox=MongoOutbox(db["outbox"], errors),
            traces=MongoTraces(db, errors, instance_from_mongo, execution_from_mongo),
        )

    def _new_client(self, url: str) -> Any:
        try:
            with store_errors(self.where):
                return _make_client(url, self.driver)
        except ValueError as exc:  # PyMongo's URL parser raises some errors as ValueError
            raise StoreError(f"{self.where}: {redact(str(exc))}") from exc

    async def close(self) -> None:
        self._repositories = None
        if self._owns_client and self.client is not None:
            # motor's close() returns None, PyMongo's AsyncMongoClient.close() a coroutine.
            result = self.client.close()
            if inspect.isawaitable(result):
                await result
            self.client = None

    async def schema_version(self) -> int:
        if self.client is None:
            raise StoreError(f"{self.where} is not open")
        with store_errors(self.where):
            return await _read_version(self.client[self.database_name])

    async def probe_write(self) -> None:
        if self.client is None:
            raise StoreError(f"{self.where} is not open")
        with store_errors(self.where):
            await _probe(self.client[self.database_name])


async def _probe(db: Any) -> None:
    await db["meta"].update_one(
        {"_id": "write-probe"}, {"$set": {"at": datetime.now(UTC)}}, upsert=True
    )


async def _read_version(db: Any) -> int:
    meta = await db["meta"].find_one({"_id": _SCHEMA_ID})
    return int(meta["version"]) if meta else 0


async def _migrate(db: Any, where: str) -> None:
    current = await _read_version(db)
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"{where} has schema version {current}, newer than this Squall supports"
            f" ({SCHEMA_VERSION}); upgrade Squall or use another database"
        )
    # create_index is idempotent, so every open re-asserts all indexes, whatever the version.
    for version_indexes in _INDEXES:
        for keys, options in version_indexes:
            await db["executions"].create_index(keys, **options)
    await create_kv_indexes(db)
    await create_event_indexes(db)
    await create_api_key_indexes(db)
    await create_approval_indexes(db)
    await create_audit_indexes(db)
    await create_workflow_indexes(db)
    await create_lease_indexes(db)
    await create_trace_indexes(db)
    await create_credential_indexes(db)
    if current < SCHEMA_VERSION:
        await db["meta"].update_one(
            {"_id": _SCHEMA_ID}, {"$set": {"version": SCHEMA_VERSION}}, upsert=True
        )

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

from core.kv.crypto import Keys
from core.store.base import ExecutionRepository, StoreError, WorkflowStateRepository
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
from core.store.sealing import SealedExecutions, SealedWorkflows, seal_execution

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


class MongoStore:
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
        self._executions: MongoExecutions | None = None
        self._keys: Keys | None = None
        self._sealed: SealedExecutions | None = None
        self._kv: MongoKeyValues | None = None
        self._trigger_instances: MongoTriggerInstances | None = None
        self._rule_enforcements: MongoRuleEnforcements | None = None
        self._api_keys: MongoApiKeys | None = None
        self._rule_states: MongoRuleStates | None = None
        self._approvals: MongoApprovals | None = None
        self._audit: MongoAudit | None = None
        self._workflows: MongoWorkflows | None = None
        self._leases: MongoLeases | None = None
        self._outbox: MongoOutbox | None = None
        self._traces: MongoTraces | None = None
        self._credentials: MongoCredentials | None = None

    @classmethod
    def from_url(
        cls, url: str, *, database: str | None = None, driver: str = DEFAULT_DRIVER
    ) -> MongoStore:
        return cls(database=database or database_from_url(url), url=url, driver=driver)

    @property
    def where(self) -> str:
        return f"MongoDB {redact(self._url) if self._url else 'client'} db {self.database_name}"

    @property
    def executions(self) -> ExecutionRepository:
        if self._executions is None:
            raise StoreError(f"{self.where} is not open")
        if self._keys is None:
            return self._executions
        if self._sealed is None or self._sealed.inner is not self._executions:
            self._sealed = SealedExecutions(self._executions, self._keys)
        return self._sealed

    def seal_with(self, keys: Keys) -> None:
        """From now on executions are written sealed and read opened (core.store.sealing)."""
        self._keys = keys
        self.trigger_instances.seal = functools.partial(seal_execution, keys=keys)

    @property
    def kv(self) -> MongoKeyValues:
        if self._kv is None:
            raise StoreError(f"{self.where} is not open")
        return self._kv

    @property
    def trigger_instances(self) -> MongoTriggerInstances:
        if self._trigger_instances is None:
            raise StoreError(f"{self.where} is not open")
        return self._trigger_instances

    @property
    def rule_enforcements(self) -> MongoRuleEnforcements:
        if self._rule_enforcements is None:
            raise StoreError(f"{self.where} is not open")
        return self._rule_enforcements

    @property
    def api_keys(self) -> MongoApiKeys:
        if self._api_keys is None:
            raise StoreError(f"{self.where} is not open")
        return self._api_keys

    @property
    def rule_states(self) -> MongoRuleStates:
        if self._rule_states is None:
            raise StoreError(f"{self.where} is not open")
        return self._rule_states

    @property
    def approvals(self) -> MongoApprovals:
        if self._approvals is None:
            raise StoreError(f"{self.where} is not open")
        return self._approvals

    @property
    def audit(self) -> MongoAudit:
        if self._audit is None:
            raise StoreError(f"{self.where} is not open")
        return self._audit

    @property
    def credentials(self) -> MongoCredentials:
        if self._credentials is None:
            raise StoreError(f"{self.where} is not open")
        return self._credentials

    @property
    def workflows(self) -> WorkflowStateRepository:
        if self._workflows is None:
            raise StoreError(f"{self.where} is not open")
        if self._keys is None:
            return self._workflows
        return SealedWorkflows(self._workflows, self._keys)

    @property
    def leases(self) -> MongoLeases:
        if self._leases is None:
            raise StoreError(f"{self.where} is not open")
        return self._leases

    @property
    def outbox(self) -> MongoOutbox:
        if self._outbox is None:
            raise StoreError(f"{self.where} is not open")
        return self._outbox

    @property
    def traces(self) -> MongoTraces:
        if self._traces is None:
            raise StoreError(f"{self.where} is not open")
        return self._traces

    async def open(self) -> None:
        if self._executions is not None:
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
        self._executions = MongoExecutions(db["executions"], self.where)
        self._kv = MongoKeyValues(db["kv"], lambda: store_errors(self.where))
        self._rule_enforcements = MongoRuleEnforcements(
            db["rule_enforcements"], lambda: store_errors(self.where)
        )
        self._trigger_instances = MongoTriggerInstances(
            db["trigger_instances"],
            lambda: store_errors(self.where),
            self._rule_enforcements,
            self._executions,
        )
        self._api_keys = MongoApiKeys(db["api_keys"], lambda: store_errors(self.where))
        self._rule_states = MongoRuleStates(db["rule_states"], lambda: store_errors(self.where))
        self._approvals = MongoApprovals(db["approvals"], lambda: store_errors(self.where))
        self._audit = MongoAudit(db["audit"], lambda: store_errors(self.where))
        self._workflows = MongoWorkflows(
            db["workflow_heads"], db["workflow_records"], lambda: store_errors(self.where)
        )
        self._leases = MongoLeases(db["leases"], lambda: store_errors(self.where))
        self._outbox = MongoOutbox(db["outbox"], lambda: store_errors(self.where))
        self._traces = MongoTraces(
            db, lambda: store_errors(self.where), instance_from_mongo, execution_from_mongo
        )
        self._credentials = MongoCredentials(
            db["passwords"], db["tokens"], lambda: store_errors(self.where)
        )

    def _new_client(self, url: str) -> Any:
        try:
            with store_errors(self.where):
                return _make_client(url, self.driver)
        except ValueError as exc:  # PyMongo's URL parser raises some errors as ValueError
            raise StoreError(f"{self.where}: {redact(str(exc))}") from exc

    async def close(self) -> None:
        self._executions = self._kv = None
        self._trigger_instances = self._rule_enforcements = None
        self._api_keys, self._rule_states = None, None
        self._approvals, self._audit, self._workflows = None, None, None
        self._leases, self._outbox, self._traces = None, None, None
        self._credentials = None
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

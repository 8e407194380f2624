"""Squall's side of a python action's ``action_service``: datastore calls over a socket.

The action process never opens the store (it may be MongoDB, or a SQLite file with one writer):
each call is one JSON line on a socketpair, answered by the parent's ``KeyValueService``, so
encryption, TTLs and scopes behave exactly as everywhere else. The wire format is in
``python_host/datastore_client.py``, the child's half.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.kv.model import KeyValuePair
from core.kv.names import SYSTEM, USER, canonical_scope
from core.kv.service import KeyValueService

log = logging.getLogger(__name__)

# One request line: a key name, a value and a few flags; bounded so a runaway action cannot
# make Squall buffer without limit.
MAX_LINE = 4 * 1024 * 1024


class DatastoreRequestError(ValueError):
    """A call the action made with missing or mistyped arguments."""


@dataclass(frozen=True)
class DatastoreCaller:
    """Whose datastore it is: the user scope belongs to the execution's user."""

    user: str | None

    @classmethod
    def of(cls, context: Mapping[str, Any]) -> DatastoreCaller:
        user = context.get("api_user") or context.get("user")
        return cls(str(user) if user else None)


def _arg(args: Mapping[str, Any], name: str, kind: type, default: Any = None) -> Any:
    value = args.get(name, default)
    if value is not None and not isinstance(value, kind):
        # The type only: the value may be a secret.
        raise DatastoreRequestError(f"{name} must be {kind.__name__}, not {type(value).__name__}")
    return value


def _pair_item(pair: KeyValuePair) -> dict[str, Any]:
    expiry = pair.expire_timestamp.isoformat() if pair.expire_timestamp else None
    return {
        "name": pair.name,
        "value": pair.value,
        "secret": pair.secret,
        "encrypted": pair.encrypted,
        "scope": pair.scope,
        "expire_timestamp": expiry,
    }


class DatastoreHandler:
    """Turns one ``action_service`` call into a ``KeyValueService`` call."""

    def __init__(self, kv: KeyValueService, caller: DatastoreCaller) -> None:
        self.kv = kv
        self.caller = caller

    def _scope(self, args: Mapping[str, Any]) -> tuple[str, str | None]:
        scope = canonical_scope(_arg(args, "scope", str, SYSTEM))
        return scope, (self.caller.user if scope == USER else None)

    async def handle(self, method: str, args: Mapping[str, Any]) -> Any:
        name = _arg(args, "name", str)
        if method == "list_values":
            pairs = await self.kv.list(_arg(args, "prefix", str), scope=SYSTEM)
            return [_pair_item(pair) for pair in pairs]
        if name is None:
            raise DatastoreRequestError(f"{method} needs a key name")
        scope, user = self._scope(args)
        if method == "get_value":
            decrypt = bool(_arg(args, "decrypt", bool, False))
            pair = await self.kv.get(name, scope=scope, user=user, decrypt=decrypt)
            return None if pair is None else pair.value
        if method == "set_value":
            value, ttl = _arg(args, "value", str), _arg(args, "ttl", int)
            secret = bool(_arg(args, "encrypt", bool, False))
            if value is None:
                raise DatastoreRequestError("set_value needs a string value")
            await self.kv.set(name, value, scope=scope, user=user, secret=secret, ttl=ttl)
            return True
        if method == "delete_value":
            return await self.kv.delete(name, scope=scope, user=user)
        raise DatastoreRequestError(f"unknown datastore method {method!r}")

    async def answer(self, line: bytes) -> dict[str, Any]:
        """The response to one request line; an error is the action's, never Squall's."""
        try:
            request = json.loads(line)
            method, args = request["method"], request.get("args") or {}
            if not isinstance(method, str) or not isinstance(args, dict):
                raise DatastoreRequestError("a request is {method: str, args: object}")
            return {"result": await self.handle(method, args)}
        except Exception as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}


async def serve_datastore(sock: socket.socket, handler: DatastoreHandler) -> None:
    """Answer requests on ``sock`` until the action closes its end (or we are cancelled)."""
    reader, writer = await asyncio.open_unix_connection(sock=sock, limit=MAX_LINE)
    try:
        while line := await reader.readline():
            response = await handler.answer(line)
            writer.write(json.dumps(response, default=str).encode() + b"\n")
            await writer.drain()
    except (ConnectionError, ValueError) as exc:  # ValueError: a line over MAX_LINE
        log.warning("python-script: datastore channel closed: %r", exc)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


class DatastoreChannel:
    """One execution's socketpair: the child's end goes to the action as fd 3."""

    def __init__(self, handler: DatastoreHandler) -> None:
        ours, self._theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        ours.setblocking(False)
        self._server = asyncio.create_task(serve_datastore(ours, handler))

    @property
    def child_fd(self) -> int:
        return self._theirs.fileno()

    def release_child_fd(self) -> None:
        """Drop our copy once the action has its own, so its exit ends the channel."""
        self._theirs.close()

    async def close(self) -> None:
        self._theirs.close()
        self._server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._server

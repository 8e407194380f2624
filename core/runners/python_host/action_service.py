"""``self.action_service`` of a python action: datastore calls, routed through one transport.

Every method turns into ``transport(method, arguments)``: a request over the datastore socket
answered by Squall's ``KeyValueService`` (``datastore_client.py``), or a refusal when the
process has no datastore.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SYSTEM_SCOPE = "system"
Transport = Callable[[str, dict[str, Any]], Any]


def datastore_unavailable(method: str, arguments: dict[str, Any]) -> Any:
    raise RuntimeError("the datastore is not available to this action process")


@dataclass(frozen=True)
class KeyValuePair:
    """What ``list_values`` returns: st2 gives client model objects with these attributes."""

    name: str
    value: str
    secret: bool = False
    encrypted: bool = False
    scope: str = SYSTEM_SCOPE
    expire_timestamp: str | None = None


class DatastoreCalls:
    """st2's datastore methods, shared by the action and the sensor service; ``local=True``
    keys live under ``<pack>.<Class>:``."""

    def __init__(self, pack: str, class_name: str, transport: Transport) -> None:
        self.pack = pack
        self.class_name = class_name
        self._transport = transport

    def _key(self, name: str, local: bool) -> str:
        return f"{self.pack}.{self.class_name}:{name}" if local else name

    def get_value(
        self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE, decrypt: bool = False
    ) -> str | None:
        """The value, or None when the key does not exist (or expired)."""
        args = {"name": self._key(name, local), "scope": scope, "decrypt": decrypt}
        result: str | None = self._transport("get_value", args)
        return result

    def set_value(
        self,
        name: str,
        value: object,
        ttl: int | None = None,
        local: bool = True,
        scope: str = SYSTEM_SCOPE,
        encrypt: bool = False,
    ) -> bool:
        """Stores ``str(value)``, as st2's datastore service does (hello_st2 stores an int)."""
        args = {"name": self._key(name, local), "value": str(value), "ttl": ttl}
        return bool(self._transport("set_value", {**args, "scope": scope, "encrypt": encrypt}))

    def delete_value(self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE) -> bool:
        """True if the key existed."""
        args = {"name": self._key(name, local), "scope": scope}
        return bool(self._transport("delete_value", args))

    def list_values(
        self,
        local: bool = True,
        prefix: str | None = None,
        limit: int | None = None,
        offset: int | None = 0,
    ) -> list[KeyValuePair]:
        """System-scope pairs under ``prefix`` (within this action's namespace if ``local``),
        paged by ``limit``/``offset`` as st2's API pages them."""
        full_prefix = self._key(prefix or "", local) if local else prefix
        items = self._transport("list_values", {"prefix": full_prefix}) or []
        start = offset or 0
        page = items[start : start + limit] if limit else items[start:]
        return [KeyValuePair(**item) for item in page]


class ActionService(DatastoreCalls):
    """st2's ``ActionService`` API."""

    def __init__(
        self,
        pack: str,
        class_name: str,
        log_level: str = "debug",
        transport: Transport = datastore_unavailable,
    ) -> None:
        # pack, class_name and log_level are read by the shim's Action.__init__ to name and
        # level the action's logger.
        super().__init__(pack, class_name, transport)
        self.log_level = log_level

"""``self.action_service`` of a python action: datastore calls, routed through one transport.

Every method turns into ``transport(method, arguments)``. Today the transport refuses; when the
datastore lands it becomes a request over the host's control socket answered by Squall, and
nothing here or in pack code changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SYSTEM_SCOPE = "system"
Transport = Callable[[str, dict[str, Any]], Any]


def datastore_unavailable(method: str, arguments: dict[str, Any]) -> Any:
    raise RuntimeError("the datastore is not available yet in this Squall version")


class ActionService:
    """st2's ``ActionService`` API; ``local=True`` keys live under ``<pack>.<Class>:``."""

    def __init__(
        self,
        pack: str,
        class_name: str,
        log_level: str = "debug",
        transport: Transport = datastore_unavailable,
    ) -> None:
        # Read by the shim's Action.__init__ to name and level the action's logger.
        self.pack = pack
        self.class_name = class_name
        self.log_level = log_level
        self._transport = transport

    def _key(self, name: str, local: bool) -> str:
        return f"{self.pack}.{self.class_name}:{name}" if local else name

    def get_value(
        self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE, decrypt: bool = False
    ) -> Any:
        args = {"name": self._key(name, local), "scope": scope, "decrypt": decrypt}
        return self._transport("get_value", args)

    def set_value(
        self,
        name: str,
        value: Any,
        ttl: int | None = None,
        local: bool = True,
        scope: str = SYSTEM_SCOPE,
        encrypt: bool = False,
    ) -> Any:
        args = {"name": self._key(name, local), "value": value, "ttl": ttl}
        return self._transport("set_value", {**args, "scope": scope, "encrypt": encrypt})

    def delete_value(self, name: str, local: bool = True, scope: str = SYSTEM_SCOPE) -> Any:
        return self._transport("delete_value", {"name": self._key(name, local), "scope": scope})

    def list_values(self, local: bool = True, prefix: str | None = None) -> Any:
        full_prefix = self._key(prefix or "", local) if local else prefix
        return self._transport("list_values", {"prefix": full_prefix})

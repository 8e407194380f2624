"""``MockDatastoreService``: the datastore calls of actions and sensors, in memory."""

import logging
from unittest import mock

__all__ = ["DatastoreCalls", "KeyValuePair", "MockDatastoreService"]

SYSTEM_SCOPE = "system"


class KeyValuePair:
    """What ``list_values`` returns: objects with ``name`` and ``value`` (st2's client model)."""

    def __init__(self, name, value, ttl=None, scope=SYSTEM_SCOPE, secret=False):
        self.id = name
        self.name = name
        self.value = value
        self.ttl = ttl
        self.scope = scope
        self.secret = secret

    def __repr__(self):
        return f"<KeyValuePair name={self.name},value={self.value}>"


class MockDatastoreService:
    """Keys of ``local=True`` calls live under ``<pack>.<Class>:``, as in st2."""

    def __init__(self, logger=None, pack_name="tests", class_name="", api_username=None):
        self._logger = logger or logging.getLogger(__name__)
        self._pack_name = pack_name
        self._class_name = class_name
        self._username = api_username or "admin"
        self._datastore_items = {}

    def _prefix(self):
        return f"{self._pack_name}.{self._class_name}:"

    def _full_name(self, name, local):
        return self._prefix() + name if local else name

    def get_user_info(self):
        return {
            "username": self._username,
            "rbac": {"is_admin": True, "enabled": True, "roles": ["admin"]},
            "authentication": {"method": "authentication token", "location": "header"},
        }

    def list_values(self, local=True, prefix=None, limit=None, offset=0):
        key_prefix = (self._prefix() + (prefix or "")) if local else prefix
        if not key_prefix:
            found = list(self._datastore_items.values())
        else:
            found = [v for k, v in self._datastore_items.items() if k.startswith(key_prefix)]
        start = offset or 0
        return found[start : start + limit] if limit else found[start:]

    def get_value(self, name, local=True, scope=SYSTEM_SCOPE, decrypt=False):
        item = self._datastore_items.get(self._full_name(name, local))
        return None if item is None else item.value

    def set_value(self, name, value, ttl=None, local=True, scope=SYSTEM_SCOPE, encrypt=False):
        full = self._full_name(name, local)
        if ttl:
            self._logger.warning("MockDatastoreService is not able to expire keys based on ttl.")
        self._datastore_items[full] = KeyValuePair(full, value, ttl, scope, encrypt)
        return True

    def delete_value(self, name, local=True, scope=SYSTEM_SCOPE):
        return self._datastore_items.pop(self._full_name(name, local), None) is not None


class DatastoreCalls:
    """The datastore methods of the mock action and sensor services, answered in memory."""

    def __init__(self, wrapper):
        # A Mock, so tests can assert what was logged (as st2's).
        self._logger = mock.Mock()
        self._datastore_service = MockDatastoreService(
            logger=self._logger,
            pack_name=wrapper._pack,
            class_name=wrapper._class_name,
        )

    @property
    def datastore_service(self):
        return self._datastore_service

    def get_user_info(self):
        return self._datastore_service.get_user_info()

    def list_values(self, local=True, prefix=None, limit=None, offset=0):
        return self._datastore_service.list_values(local, prefix, limit, offset)

    def get_value(self, name, local=True, scope="system", decrypt=False):
        return self._datastore_service.get_value(name, local, scope=scope, decrypt=decrypt)

    def set_value(self, name, value, ttl=None, local=True, scope="system", encrypt=False):
        return self._datastore_service.set_value(name, value, ttl, local, scope, encrypt)

    def delete_value(self, name, local=True, scope="system"):
        return self._datastore_service.delete_value(name, local, scope)

"""``MockActionService``: the ``action_service`` of actions under test."""

from unittest import mock

from st2tests.mocks.datastore import MockDatastoreService

__all__ = ["MockActionService", "MockActionWrapper"]


class MockActionWrapper:
    def __init__(self, pack, class_name):
        self._pack = pack
        self._class_name = class_name


class MockActionService:
    def __init__(self, action_wrapper):
        self._action_wrapper = action_wrapper
        # Read by the shim's Action.__init__ (pack name and log level of the action's logger).
        self.pack = action_wrapper._pack
        self.class_name = action_wrapper._class_name
        self.log_level = "debug"
        # A Mock, so tests can assert what was logged (as st2's).
        self._logger = mock.Mock()
        self._datastore_service = MockDatastoreService(
            logger=self._logger,
            pack_name=action_wrapper._pack,
            class_name=action_wrapper._class_name,
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

"""``MockSensorService``: a sensor's ``sensor_service`` that records what it dispatches."""

from unittest import mock

from st2tests.mocks.datastore import MockDatastoreService

__all__ = ["MockSensorService", "MockSensorWrapper"]


class MockSensorWrapper:
    def __init__(self, pack, class_name):
        self._pack = pack
        self._class_name = class_name


class MockSensorService:
    def __init__(self, sensor_wrapper):
        self._sensor_wrapper = sensor_wrapper
        self.dispatched_triggers = []
        # A Mock, so tests can assert what was logged (as st2's).
        self._logger = mock.Mock()
        self._datastore_service = MockDatastoreService(
            logger=self._logger,
            pack_name=sensor_wrapper._pack,
            class_name=sensor_wrapper._class_name,
        )

    @property
    def datastore_service(self):
        return self._datastore_service

    def get_logger(self, name):
        return self._logger

    def dispatch(self, trigger, payload=None, trace_tag=None):
        trace_context = {"trace_tag": trace_tag} if trace_tag else None
        self.dispatch_with_context(trigger, payload, trace_context)

    def dispatch_with_context(self, trigger, payload=None, trace_context=None):
        self.dispatched_triggers.append(
            {"trigger": trigger, "payload": payload, "trace_context": trace_context}
        )

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

"""``MockSensorService``: a sensor's ``sensor_service`` that records what it dispatches."""

from st2tests.mocks.datastore import DatastoreCalls

__all__ = ["MockSensorService", "MockSensorWrapper"]


class MockSensorWrapper:
    def __init__(self, pack, class_name):
        self._pack = pack
        self._class_name = class_name


class MockSensorService(DatastoreCalls):
    def __init__(self, sensor_wrapper):
        self._sensor_wrapper = sensor_wrapper
        self.dispatched_triggers = []
        super().__init__(sensor_wrapper)

    def get_logger(self, name):
        return self._logger

    def dispatch(self, trigger, payload=None, trace_tag=None):
        trace_context = {"trace_tag": trace_tag} if trace_tag else None
        self.dispatch_with_context(trigger, payload, trace_context)

    def dispatch_with_context(self, trigger, payload=None, trace_context=None):
        self.dispatched_triggers.append(
            {"trigger": trigger, "payload": payload, "trace_context": trace_context}
        )

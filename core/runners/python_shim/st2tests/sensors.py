"""``BaseSensorTestCase``: unit tests of a pack's sensors."""

from st2tests.mocks.sensor import MockSensorService, MockSensorWrapper
from st2tests.pack_resource import BasePackResourceTestCase

__all__ = ["BaseSensorTestCase"]


class BaseSensorTestCase(BasePackResourceTestCase):
    sensor_cls = None

    def setUp(self):
        super().setUp()
        wrapper = MockSensorWrapper(pack="tests", class_name=self.sensor_cls.__name__)
        self.sensor_service = MockSensorService(sensor_wrapper=wrapper)

    def get_sensor_instance(self, config=None, poll_interval=None):
        kwargs = {"sensor_service": self.sensor_service}
        if config:
            kwargs["config"] = config
        if poll_interval is not None:
            kwargs["poll_interval"] = poll_interval
        return self.sensor_cls(**kwargs)

    def get_dispatched_triggers(self):
        return self.sensor_service.dispatched_triggers

    def get_last_dispatched_trigger(self):
        return self.sensor_service.dispatched_triggers[-1]

    def assertTriggerDispatched(self, trigger, payload=None, trace_context=None):
        """Passes if ``trigger`` was dispatched (with ``payload``/``trace_context`` if given)."""
        for item in self.get_dispatched_triggers():
            if item["trigger"] != trigger:
                continue
            if payload and item["payload"] != payload:
                continue
            if trace_context and item["trace_context"] != trace_context:
                continue
            return True
        raise AssertionError(f'Trigger "{trigger}" hasn\'t been dispatched')

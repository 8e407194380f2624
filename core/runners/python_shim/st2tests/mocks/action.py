"""``MockActionService``: the ``action_service`` of actions under test."""

from st2tests.mocks.datastore import DatastoreCalls

__all__ = ["MockActionService", "MockActionWrapper"]


class MockActionWrapper:
    def __init__(self, pack, class_name):
        self._pack = pack
        self._class_name = class_name


class MockActionService(DatastoreCalls):
    def __init__(self, action_wrapper):
        self._action_wrapper = action_wrapper
        # Read by the shim's Action.__init__ (pack name and log level of the action's logger).
        self.pack = action_wrapper._pack
        self.class_name = action_wrapper._class_name
        self.log_level = "debug"
        super().__init__(action_wrapper)

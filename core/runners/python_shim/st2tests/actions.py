"""``BaseActionTestCase``: unit tests of a pack's Python actions."""

from st2common.runners.utils import get_action_class_instance

from st2tests.mocks.action import MockActionService, MockActionWrapper
from st2tests.pack_resource import BasePackResourceTestCase

__all__ = ["BaseActionTestCase"]


class BaseActionTestCase(BasePackResourceTestCase):
    action_cls = None

    def setUp(self):
        super().setUp()
        wrapper = MockActionWrapper(pack="tests", class_name=self.action_cls.__name__)
        self.action_service = MockActionService(action_wrapper=wrapper)

    def get_action_instance(self, config=None):
        """An instance of ``action_cls`` with ``config`` and the in-memory action_service."""
        return get_action_class_instance(
            action_cls=self.action_cls, config=config, action_service=self.action_service
        )

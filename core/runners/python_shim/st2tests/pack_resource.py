"""The base of the pack resource test cases: fixtures under the pack's ``tests/fixtures``."""

import inspect
import os
from unittest import TestCase

__all__ = ["BasePackResourceTestCase", "get_fixture_content"]


class BasePackResourceTestCase(TestCase):
    def get_fixture_content(self, fixture_path):
        """The text of ``tests/fixtures/<fixture_path>`` of the pack under test."""
        return get_fixture_content(fixture_path, self._get_base_pack_path())

    def _get_base_pack_path(self):
        test_file = inspect.getfile(self.__class__)
        return os.path.abspath(os.path.join(os.path.dirname(test_file), ".."))


def get_fixture_content(fixture_path, base_pack_path=None):
    """A fixture's text; ``base_pack_path`` defaults to the working directory (the pack's
    root, where ``squall pack test`` runs the tests)."""
    base = base_pack_path or os.getcwd()
    with open(os.path.join(base, "tests", "fixtures", fixture_path)) as fp:
        return fp.read()

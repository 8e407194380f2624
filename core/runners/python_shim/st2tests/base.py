"""``st2tests.base``: the test case classes pack tests import from here."""

from st2tests.action_aliases import BaseActionAliasTestCase
from st2tests.actions import BaseActionTestCase
from st2tests.pack_resource import BasePackResourceTestCase, get_fixture_content
from st2tests.sensors import BaseSensorTestCase

__all__ = [
    "BaseActionAliasTestCase",
    "BaseActionTestCase",
    "BasePackResourceTestCase",
    "BaseSensorTestCase",
    "get_fixture_content",
]

"""``BaseActionAliasTestCase``: a pack's alias formats checked with Squall's alias parser.

The parser is Squall's own (``core.aliases``), so a pack's alias tests say how Squall will
match the commands. ``squall pack test`` makes it importable for the tests.
"""

import os

import yaml

from st2tests.pack_resource import BasePackResourceTestCase

__all__ = ["BaseActionAliasTestCase"]


class BaseActionAliasTestCase(BasePackResourceTestCase):
    action_alias_name = None
    action_alias_db = None

    def setUp(self):
        super().setUp()
        if not self.action_alias_name:
            raise ValueError('"action_alias_name" class attribute needs to be provided')
        self.action_alias_db = self._get_action_alias_db_by_name(self.action_alias_name)

    def assertCommandMatchesExactlyOneFormatString(self, format_strings, command):
        from core.aliases.parser import AliasParseError, parse

        matched = []
        for format_string in format_strings:
            try:
                parse(format_string, command)
            except AliasParseError:
                continue
            matched.append(format_string)
        if not matched:
            raise AssertionError(
                f'Command "{command}" didn\'t match any of the provided format strings'
            )
        if len(matched) > 1:
            raise AssertionError(
                'Command "{}" matched multiple format strings: {}'.format(
                    command, ", ".join(matched)
                )
            )

    def assertExtractedParametersMatch(self, format_string, command, parameters):
        from core.aliases.parser import parse

        if format_string not in _format_strings(self.action_alias_db):
            raise ValueError(
                'Format string "{}" is not available on the alias "{}"'.format(
                    format_string, self.action_alias_db.get("name")
                )
            )
        extracted = parse(format_string, command)
        if extracted != parameters:
            msg = (
                f'Extracted parameters from command string "{command}" against format '
                f'string "{format_string}" didn\'t match the provided parameters: '
            )
            try:
                self.assertEqual(extracted, parameters)
            except AssertionError as e:
                msg += str(e)
            raise AssertionError(msg)

    def _get_action_alias_db_by_name(self, name):
        """The alias ``name`` of the pack under test, as its YAML says (a dict)."""
        aliases_dir = os.path.join(self._get_base_pack_path(), "aliases")
        for entry in sorted(os.listdir(aliases_dir)) if os.path.isdir(aliases_dir) else []:
            if not entry.endswith((".yaml", ".yml")):
                continue
            with open(os.path.join(aliases_dir, entry)) as fp:
                alias = yaml.safe_load(fp) or {}
            if alias.get("name") == name:
                return ActionAliasDB(alias)
        raise ValueError(f'Alias with name "{name}" not found')


class ActionAliasDB:
    """The alias as st2's model object: its YAML keys as attributes (``formats``, ``name``,
    ``ack``...), missing ones None."""

    def __init__(self, data):
        self._data = dict(data)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return self._data.get(name, self._data.get(name.replace("_", "-")))

    def get(self, key, default=None):
        return self._data.get(key, default)

    def get_format_strings(self):
        return _format_strings(self._data)


def _format_strings(alias):
    """The alias's format strings as st2 lists them: a format with ``representation`` stands
    for those (its ``display`` is only shown), others for themselves."""
    found = []
    for item in alias.get("formats") or []:
        if isinstance(item, dict) and item.get("representation"):
            found.extend(item["representation"])
        elif isinstance(item, dict):
            if item.get("display"):
                found.append(item["display"])
        else:
            found.append(item)
    return found

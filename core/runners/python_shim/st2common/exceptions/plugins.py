"""Exception classes of ``st2common.exceptions.plugins`` that packs raise or catch."""

from st2common.exceptions import StackStormPluginException

__all__ = ["IncompatiblePluginException", "PluginLoadError"]


class PluginLoadError(StackStormPluginException):
    pass


class IncompatiblePluginException(StackStormPluginException):
    pass

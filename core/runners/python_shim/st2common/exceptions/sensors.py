"""Exception classes of ``st2common.exceptions.sensors`` that packs raise or catch."""

from st2common.exceptions import StackStormBaseException, StackStormPluginException

__all__ = ["SensorNotFoundException", "SensorPluginException", "TriggerTypeRegistrationException"]


class SensorPluginException(StackStormPluginException):
    pass


class TriggerTypeRegistrationException(SensorPluginException):
    pass


class SensorNotFoundException(StackStormBaseException):
    pass

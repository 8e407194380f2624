"""Exception classes of ``st2common.exceptions.action`` that packs raise or catch."""

from st2common.exceptions import StackStormBaseException

__all__ = [
    "InvalidActionParameterException",
    "InvalidActionReferencedException",
    "ParameterRenderingFailedException",
]


class ParameterRenderingFailedException(StackStormBaseException):
    pass


class InvalidActionReferencedException(StackStormBaseException):
    pass


class InvalidActionParameterException(StackStormBaseException):
    pass

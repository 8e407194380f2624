"""Exception classes of ``st2common.exceptions.apivalidation`` that packs raise or catch."""

from st2common.exceptions import StackStormBaseException

__all__ = ["ValueValidationException"]


class ValueValidationException(StackStormBaseException):
    pass

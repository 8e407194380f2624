"""Exception classes of ``st2common.exceptions.param`` that packs raise or catch."""

from st2common.exceptions import StackStormBaseException

__all__ = ["ParamException"]


class ParamException(StackStormBaseException):
    pass

"""Exception classes of ``st2common.exceptions.triggers`` that packs raise or catch."""

from st2common.exceptions import StackStormBaseException

__all__ = ["TriggerDoesNotExistException"]


class TriggerDoesNotExistException(StackStormBaseException):
    pass

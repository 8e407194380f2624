"""Exception classes of ``st2common.exceptions.db`` that packs raise or catch."""

from st2common.exceptions import StackStormBaseException

__all__ = [
    "StackStormDBObjectConflictError",
    "StackStormDBObjectMalformedError",
    "StackStormDBObjectNotFoundError",
    "StackStormDBObjectWriteConflictError",
]


class StackStormDBObjectNotFoundError(StackStormBaseException):
    pass


class StackStormDBObjectMalformedError(StackStormBaseException):
    pass


class StackStormDBObjectConflictError(StackStormBaseException):
    pass


class StackStormDBObjectWriteConflictError(StackStormBaseException):
    pass

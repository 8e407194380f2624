"""Exception classes of ``st2common.exceptions.content`` that packs raise or catch."""

from st2common.exceptions import StackStormBaseException

__all__ = ["ParseException", "ResourceDiskFilesRemovalError", "UnsupportedMetaException"]


class UnsupportedMetaException(StackStormBaseException):
    pass


class ParseException(ValueError):
    pass


class ResourceDiskFilesRemovalError(StackStormBaseException):
    pass

"""Exception classes of ``st2common.exceptions.keyvalue`` that packs raise or catch."""

from st2common.exceptions import StackStormBaseException
from st2common.exceptions.db import StackStormDBObjectNotFoundError

__all__ = [
    "CryptoKeyNotSetupException",
    "DataStoreKeyNotFoundError",
    "InvalidScopeException",
    "InvalidUserException",
]


class CryptoKeyNotSetupException(StackStormBaseException):
    pass


class DataStoreKeyNotFoundError(StackStormDBObjectNotFoundError):
    pass


class InvalidScopeException(StackStormBaseException):
    pass


class InvalidUserException(StackStormBaseException):
    pass

"""Exception classes of ``st2common.exceptions.actionalias`` that packs raise or catch."""

from st2common.exceptions import StackStormBaseException

__all__ = ["ActionAliasAmbiguityException"]


class ActionAliasAmbiguityException(ValueError, StackStormBaseException):
    pass

"""Exception classes of ``st2common.exceptions.actionrunner`` that packs raise or catch."""

from st2common.exceptions import StackStormPluginException

__all__ = [
    "ActionRunnerCreateError",
    "ActionRunnerDispatchError",
    "ActionRunnerException",
    "ActionRunnerPreRunError",
    "InvalidActionRunnerOperationError",
    "UnexpectedActionExecutionStatusError",
]


class ActionRunnerException(StackStormPluginException):
    pass


class ActionRunnerCreateError(ActionRunnerException):
    pass


class ActionRunnerDispatchError(ActionRunnerException):
    pass


class ActionRunnerPreRunError(ActionRunnerException):
    pass


class InvalidActionRunnerOperationError(ActionRunnerException):
    pass


class UnexpectedActionExecutionStatusError(ActionRunnerException):
    pass

"""The base class of every python-script action (StackStorm's ``base_action.Action``)."""

import abc

from st2common.runners.utils import PackConfigDict, get_logger_for_python_runner_action

__all__ = ["Action"]


class Action(abc.ABC):
    """Subclass this and implement ``run(**parameters)``.

    ``run`` returns either a value (the execution succeeds with it as ``result``) or a
    ``(bool, value)`` tuple whose first item decides between ``succeeded`` and ``failed``.
    """

    description = None

    def __init__(self, config=None, action_service=None):
        self.action_service = action_service
        # The host's ActionService says which pack and log level this run uses.
        pack = getattr(action_service, "pack", None) or "unknown"
        log_level = getattr(action_service, "log_level", None) or "debug"
        self.config = PackConfigDict(pack, config or {})
        self.logger = get_logger_for_python_runner_action(
            action_name=self.__class__.__name__, log_level=log_level
        )

    @abc.abstractmethod
    def run(self, **kwargs):
        raise NotImplementedError

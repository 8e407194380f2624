"""Helpers StackStorm's ``st2common.runners.utils`` offers python-script actions."""

import logging

__all__ = [
    "PackConfigDict",
    "get_action_class_instance",
    "get_logger_for_python_runner_action",
]

# st2 defines AUDIT above CRITICAL; the runner's ``log_level`` enum accepts it.
AUDIT = logging.CRITICAL + 10
logging.addLevelName(AUDIT, "AUDIT")

CONFIG_MISSING_ITEM_ERROR = (
    'Config for pack "%s" is missing key "%s".\n'
    "Make sure that the config file exists (configs/%s.yaml) and contains that key."
)


class PackConfigDict(dict):
    """The pack config; a missing key raises a message that says where to add it (as st2)."""

    def __init__(self, pack_name, *args):
        super().__init__(*args)
        self._pack_name = pack_name

    def __getitem__(self, key):
        try:
            return super().__getitem__(key)
        except KeyError:
            pack = self._pack_name
            raise ValueError(CONFIG_MISSING_ITEM_ERROR % (pack, key, pack)) from None


def get_logger_for_python_runner_action(action_name, log_level="debug"):
    """A logger ``actions.python.<action_name>`` writing to the action's stderr."""
    logger = logging.getLogger(f"actions.python.{action_name}")
    if not logger.handlers:
        level = logging.getLevelName(str(log_level).upper())
        level = level if isinstance(level, int) else logging.DEBUG
        console = logging.StreamHandler()  # binds sys.stderr now: the child's, not the host's
        console.setFormatter(logging.Formatter("%(name)-12s: %(levelname)-8s %(message)s"))
        logger.addHandler(console)
        logger.setLevel(level)
        # Pack code sometimes configures the root logger; st2 never duplicated lines there.
        logger.propagate = False
    return logger


def get_action_class_instance(action_cls, config=None, action_service=None):
    """Instantiate an action, passing ``action_service`` late to old-style constructors."""
    try:
        return action_cls(config=config, action_service=action_service)
    except TypeError as e:
        if "unexpected keyword argument 'action_service'" not in str(e):
            raise
    instance = action_cls(config=config)
    instance.action_service = action_service
    return instance

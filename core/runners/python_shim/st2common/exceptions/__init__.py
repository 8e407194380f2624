"""st2's base exceptions; the submodules hold the classes packs import by name."""

__all__ = ["StackStormBaseException", "StackStormPluginException"]


class StackStormBaseException(Exception):
    """The root of st2's exceptions; ``message`` is the first argument, as there."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args)
        self.message = args[0] if args else ""


class StackStormPluginException(StackStormBaseException):
    """Raised by or about pack plugins (actions, sensors)."""

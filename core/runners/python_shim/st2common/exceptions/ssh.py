"""Exception classes of ``st2common.exceptions.ssh`` that packs raise or catch."""

__all__ = ["InvalidCredentialsException", "NoHostsConnectedToException"]


class InvalidCredentialsException(Exception):
    pass


class NoHostsConnectedToException(Exception):
    pass

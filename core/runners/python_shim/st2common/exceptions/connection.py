"""Exception classes of ``st2common.exceptions.connection`` that packs raise or catch."""

__all__ = ["AuthenticationException", "ConnectionErrorException", "UnknownHostException"]


class UnknownHostException(Exception):
    pass


class ConnectionErrorException(Exception):
    pass


class AuthenticationException(Exception):
    pass

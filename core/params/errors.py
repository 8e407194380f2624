"""The single error type of the parameter pipeline."""

from __future__ import annotations


class ParameterError(ValueError):
    """Parameters could not be merged, rendered, cast or validated.

    ``param`` names the offending parameter when there is exactly one, so callers (chat replies,
    the API) can point at it without parsing the message.
    """

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param

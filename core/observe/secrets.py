"""The secret strings this process has come to know, told to whoever masks output.

Core finds secrets at run time (values of ``secret: true`` parameters, ``decrypt_kv`` /
``st2kv(..., decrypt=true)`` results, secrets opened from a sealed document after a restart)
but must not know about the log handler that masks them (``bot.logs``): the process installs
its mask here with ``add_secret_sink`` and core reports with ``report_secrets``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

__all__ = ["add_secret_sink", "remove_secret_sink", "report_secrets"]

SecretSink = Callable[[list[str]], None]
_SINKS: list[SecretSink] = []


def add_secret_sink(sink: SecretSink) -> None:
    """``sink`` hears of every secret reported from now on (added once, however often)."""
    if sink not in _SINKS:
        _SINKS.append(sink)


def remove_secret_sink(sink: SecretSink) -> None:
    if sink in _SINKS:
        _SINKS.remove(sink)


def report_secrets(values: Iterable[str]) -> None:
    """Tell the sinks about these secret strings (cheap when they know them already)."""
    found = [value for value in values if isinstance(value, str) and value]
    if found:
        for sink in list(_SINKS):
            sink(found)

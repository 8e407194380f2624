"""Squall's version, from the installed package's metadata.

Read at the first call (the API's version document, an HTTP request action's User-Agent):
importlib.metadata, with csv and zipfile and its scan of ``sys.path``, is ~0.4 MB that a process
which never needs the version does not hold.
"""

from __future__ import annotations

import functools

__all__ = ["installed_version"]


@functools.cache
def installed_version() -> str | None:
    """The installed package's version; None when running from a checkout never installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("squall")
    except PackageNotFoundError:
        return None

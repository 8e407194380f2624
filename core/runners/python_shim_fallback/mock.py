"""``mock`` for pack tests whose environment lacks the PyPI package: the standard library's
``unittest.mock`` under the old name (placed last on the path, so an installed ``mock`` wins)."""

from unittest.mock import *  # noqa: F403
from unittest.mock import __all__  # noqa: F401

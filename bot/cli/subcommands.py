"""What the ``squall`` sub-command modules share."""

from __future__ import annotations

import argparse

# The user command-line actions act as: executions started here, keys created, rules enabled,
# ``st2kv.user`` of ``squall run`` (so it sees the keys ``squall key set --scope user`` set).
CLI_USER = "cli"

SubParsers = argparse._SubParsersAction  # argparse has no public name for this type

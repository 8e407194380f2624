"""The console at a terminal: prompt-toolkit reads each line on the event loop with
``patch_stdout``, so output that arrives while someone types is printed above the prompt, which
stays intact at the bottom.

A module of its own: prompt-toolkit (about 7 MB resident) is imported only when the console
owns a terminal, not by every ``squall serve`` that has the console adapter at hand.
"""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit import PromptSession
from prompt_toolkit.patch_stdout import patch_stdout


async def prompt_lines(prompt: str, on_line: Callable[[str], None]) -> None:
    """Pass each line typed to ``on_line`` until Ctrl-C or Ctrl-D, then return."""
    session: PromptSession[str] = PromptSession(prompt)
    with patch_stdout(raw=True):
        while True:
            try:
                text = await session.prompt_async()
            except (EOFError, KeyboardInterrupt):
                return
            on_line(text)

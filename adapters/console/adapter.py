"""The console adapter: lines typed on the terminal (or piped in) are chat messages.

At a terminal, prompt-toolkit reads the line on the event loop (``adapters.console.terminal``;
``input()`` on a thread printed replies after a stale ``squall> ``). Ctrl-C or Ctrl-D stops
Squall. From a pipe or a file, plain lines are read on a daemon thread, so a blocked read never
holds up the event loop or the process exit; when input that gave commands ends,
``input_done`` is set (``squall serve`` then finishes their runs and exits), while an input with
nothing in it (``</dev/null``) leaves Squall serving. Output goes to a writer callable (stdout by
default) as the lines of ``convert.to_lines``; an edit re-prints the card with an "updated" marker.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from adapters.base import (
    AdapterState,
    Capabilities,
    ChatAdapter,
    ChatEvent,
    ChatIdentity,
    ChatPlace,
    OutgoingMessage,
    SentMessage,
)
from adapters.console.convert import to_lines

BANNER = "Squall console. Type 'help' for commands."
WORKSPACE = "local"
PROMPT = "squall> "
# The terminal can re-print a card (an edit) but has no buttons, threads or file uploads.
CONSOLE_CAPABILITIES = Capabilities(edits=True)


@dataclass(frozen=True)
class ConsoleLine:
    """One line of input and who typed it where (the terminal is always the configured user)."""

    text: str
    user_id: str
    channel: str
    # The terminal is a direct conversation; tests also say things "in a channel".
    direct: bool = True
    from_bot: bool = False


@dataclass(frozen=True)
class Posted:
    """What the console printed, for observers such as the TestChat helper."""

    place: ChatPlace
    message: OutgoingMessage
    message_id: str
    edited: bool
    text: str


Writer = Callable[[str], None]
Observer = Callable[[Posted], None]


def print_line(text: str) -> None:
    print(text, flush=True)


class ConsoleAdapter(ChatAdapter):
    def __init__(
        self,
        *,
        name: str = "console",
        user_id: str = "console",
        channel: str = "console",
        write: Writer = print_line,
        observer: Observer | None = None,
        capabilities: Capabilities = CONSOLE_CAPABILITIES,
        read_stdin: bool = True,
        one_reader: bool | None = None,
    ) -> None:
        self.name = name
        self.capabilities = capabilities
        self.state = AdapterState.STARTING
        self.user_id = user_id
        self.channel = channel
        self._write = write
        self._observer = observer
        self._read_stdin = read_stdin
        # Whether only the console user reads this (the terminal, or a pipe's script).
        self.one_reader = read_stdin if one_reader is None else one_reader
        self._ids = itertools.count(1)
        self._queue: asyncio.Queue[ConsoleLine | None] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reader: threading.Thread | asyncio.Task[None] | None = None
        self._lines_read = 0
        # Set when piped input that gave commands has ended: see the module docstring.
        self.input_done = asyncio.Event()
        # Set when the person at the terminal pressed Ctrl-C or Ctrl-D.
        self.stop_requested = asyncio.Event()

    @property
    def interactive(self) -> bool:
        """Whether this console owns a terminal (it reads stdin and stdin/stdout are ttys)."""
        return self._read_stdin and sys.stdin.isatty() and sys.stdout.isatty()

    async def connect(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.state = AdapterState.CONNECTED
        if self._read_stdin and self._reader is None:  # one reader, even if connected twice
            self._write(BANNER)
            if self.interactive:
                self._reader = asyncio.create_task(self._prompt(), name="console-prompt")
            else:
                self._reader = threading.Thread(
                    target=self._read_pipe, name="console-input", daemon=True
                )
                self._reader.start()

    def push(self, line: ConsoleLine | None) -> None:
        """Queue one inbound line (None ends ``events()``); safe to call from any thread."""
        if self._loop is None:
            self._queue.put_nowait(line)
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed: Squall is exiting
                self._loop.call_soon_threadsafe(self._queue.put_nowait, line)

    async def _prompt(self) -> None:
        # Imported only at a terminal: prompt-toolkit is heavy (see its module).
        from adapters.console.terminal import prompt_lines

        def typed(text: str) -> None:
            self._queue.put_nowait(ConsoleLine(text.strip(), self.user_id, self.channel))

        await prompt_lines(PROMPT, typed)
        self.stop_requested.set()

    def _read_pipe(self) -> None:
        while True:
            try:
                text = sys.stdin.readline()
            except (OSError, ValueError):
                text = ""
            if not text:  # end of input
                self.push(None)
                return
            self.push(ConsoleLine(text.strip(), self.user_id, self.channel))

    async def events(self) -> AsyncIterator[ChatEvent]:
        while (line := await self._queue.get()) is not None:
            self._lines_read += 1
            if line.text:
                yield self._event(line)
        # Every line before the end has been handed out (and dispatched) by now.
        if self._lines_read and self.state is not AdapterState.CLOSED:
            self.input_done.set()

    def _event(self, line: ConsoleLine) -> ChatEvent:
        line_id = f"in-{next(self._ids)}"
        return ChatEvent(
            identity=ChatIdentity(self.name, WORKSPACE, line.user_id),
            place=ChatPlace(self.name, line.channel, message_id=line_id, is_direct=line.direct),
            text=line.text,
            display_name=line.user_id,
            mentioned=line.direct,  # the terminal talks to the bot only
            from_bot=line.from_bot,
        )

    async def send(self, place: ChatPlace, message: OutgoingMessage) -> SentMessage:
        message_id = str(next(self._ids))
        self._print(place, message, message_id, edited=False)
        return SentMessage(place, message_id)

    async def edit(self, sent: SentMessage, message: OutgoingMessage) -> SentMessage:
        self._print(sent.place, message, sent.message_id, edited=True)
        return sent

    def _print(self, place: ChatPlace, message: OutgoingMessage, mid: str, edited: bool) -> None:
        text = "\n".join(to_lines(place, message, edited=edited))
        self._write(text)
        if self._observer is not None:
            self._observer(Posted(place, message, mid, edited, text))

    async def close(self) -> None:
        self.state = AdapterState.CLOSED
        self.push(None)
        if isinstance(self._reader, asyncio.Task):
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

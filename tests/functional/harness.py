"""A running engine with the bot on a TestChat, for the functional chat tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from adapters.console.testing import TestChat
from bot.app import open_engine
from bot.chat.loop import close_adapters
from bot.chat.runtime import ChatRuntime, open_chat
from bot.settings import load_settings
from tests.conftest import FIXTURES

CHAT_PACK = FIXTURES / "chat"
# The engine part of a chat test's config: the chat fixture pack, SQLite under the config's
# folder, no HTTP listener, python actions without the fork server.
CHAT_ENGINE = (
    "store: {url: 'sqlite:///var/squall.db'}\n"
    f"packs: {{paths: ['{CHAT_PACK}']}}\n"
    "http: {enabled: false}\n"
    "executions: {max_concurrency: 4, python_fork_server: false}\n"
)


@contextlib.asynccontextmanager
async def running(path: Path, chat: TestChat) -> AsyncIterator[ChatRuntime]:
    """The engine of the config at ``path`` (started) and the bot on ``chat``'s adapter."""
    settings = load_settings(path)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(close_adapters, [chat.adapter])
        engine = await stack.enter_async_context(open_engine(settings))
        yield await stack.enter_async_context(open_chat(engine, [chat.adapter]))

"""The errbot bridge through errbot's own test backend (a full errbot, in memory).

errbot runs commands on worker threads; Squall runs on its own loop thread inside the plugin.
Replies from the two may interleave, so each test pops until the text it expects arrives.
"""

from __future__ import annotations

import logging
import queue
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from errbot.backends import test as errbot_test

from tests.conftest import ROOT
from tests.functional.harness import CHAT_ENGINE

PLUGIN_DIR = ROOT / "adapters" / "errbot" / "plugin"
# errbot's own plugins minus the ones whose commands Squall answers (help, status, whoami):
# Utils stays, because TestBot's start handshake uses its `echo`.
CORE_PLUGINS = ("ACLs", "Utils", "Plugins", "ChatRoom", "Backup", "Flows")


def squall_config(tmp_path: Path) -> Path:
    path = tmp_path / "squall.yaml"
    path.write_text(
        CHAT_ENGINE + "routes:\n"
        "  ops: {adapter: errbot, channel: '#alerts'}\n"
        "users:\n"
        "  alice: {identities: ['errbot:test:alice@localhost'], roles: [ops]}\n"
        "  bob: {identities: ['errbot:test:bob@localhost'], roles: [approvers]}\n"
        "roles:\n"
        "  ops:\n"
        "    - allow: {actions: ['core.echo', 'core.noop', 'chat_demo.*']}\n"
        "  approvers: []\n"
    )
    return path


class Bot:
    """TestBot plus: who is talking, and what was sent where."""

    def __init__(self, bot: errbot_test.TestBot) -> None:
        self.testbot = bot
        self.sent: list[tuple[str, str]] = []
        backend = bot.bot
        original = backend.send_message

        def recording(message: Any) -> None:
            self.sent.append((str(message.to), str(message.body)))
            original(message)

        backend.send_message = recording

    def as_user(self, person: str) -> Bot:
        self.testbot.bot.sender = self.testbot.bot.build_identifier(person)
        return self

    def say(self, text: str) -> None:
        self.testbot.push_message(text)

    def wait_for(self, needle: str, timeout: float = 15) -> str:
        """Pop replies until one contains ``needle``; fail with everything seen."""
        seen: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                reply = str(self.testbot.pop_message(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                break
            if needle in reply:
                return reply
            seen.append(reply)
        raise AssertionError(f"{needle!r} never came; seen: {seen!r}")


@pytest.fixture
def errbot(tmp_path: Path) -> Iterator[Bot]:
    bot = errbot_test.TestBot(
        extra_plugin_dir=str(PLUGIN_DIR),
        loglevel=logging.WARNING,
        extra_config={
            "SQUALL_CONFIG": str(squall_config(tmp_path)),
            "CORE_PLUGINS": CORE_PLUGINS,
            "SUPPRESS_CMD_NOT_FOUND": True,
            "BOT_ADMINS": ("alice@localhost",),
        },
    )
    bot.start(timeout=10)
    try:
        yield Bot(bot).as_user("alice@localhost")
    finally:
        bot.stop()


def test_alias_ack_then_result(errbot: Bot) -> None:
    errbot.say("!greet errbot")
    assert "greeting errbot" in errbot.wait_for("greeting errbot")
    result = errbot.wait_for("Greeted")
    assert "errbot" in result and "succeeded" in result


def test_help_is_squalls_and_errbot_commands_stay_errbots(errbot: Bot) -> None:
    errbot.say("!help")
    text = errbot.wait_for("Commands you can run")
    assert "greet {{message=world}}" in text
    errbot.say("!echo still errbot")  # errbot's Utils plugin answers, Squall stays quiet
    assert errbot.wait_for("still errbot") == "still errbot"
    errbot.say("!squall whoami")  # the explicit way in, past errbot's own command names
    assert "You are alice (chat identity errbot:test:alice@localhost)" in errbot.wait_for("You are")


def test_a_notification_route_posts_into_a_room(errbot: Bot) -> None:
    errbot.say("!run chat_demo.announce who=ana")
    errbot.wait_for("ana announced")
    assert any(to == "#alerts" and "ana announced" in body for to, body in errbot.sent)


def test_a_user_without_permission_is_refused(errbot: Bot) -> None:
    errbot.as_user("carol@localhost").say("!greet nobody")
    assert "You may not run core.echo" in errbot.wait_for("You may not run")


def test_approval_by_typed_command(errbot: Bot) -> None:
    errbot.say("!deploy web to prod")
    card = errbot.wait_for("awaiting approval")
    found = re.search(r"approve ([0-9a-f]{24})", card)
    assert found is not None, card
    approval_id = found.group(1)
    errbot.say(f"!approve {approval_id}")
    assert "may not answer" in errbot.wait_for("may not answer")
    errbot.as_user("bob@localhost").say(f"!approve {approval_id}")
    assert "approved by bob" in errbot.wait_for("approved by bob")
    assert "deployed web to prod" in errbot.wait_for("deployed web to prod")


def test_multi_line_replies_keep_their_line_breaks(errbot: Bot) -> None:
    """errbot's text renderer dropped Markdown hard breaks with their newline: every line of
    a reply ran into the next ("Squall is up 0m 18schat: errbot connected…")."""
    errbot.say("!squall status")
    lines = [line.strip() for line in errbot.wait_for("Squall is up").splitlines()]
    assert lines[0].startswith("Squall is up")
    assert lines[1] == "chat: errbot connected"
    assert lines[2] == "executions running here: 0"
    errbot.say("!squall help")
    help_lines = [line.strip() for line in errbot.wait_for("Commands you can run").splitlines()]
    assert len(help_lines) > 5
    assert any(line.startswith("greet {{message=world}}") for line in help_lines)

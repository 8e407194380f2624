"""The errbot plugin: Squall's engine inside errbot, every alias behind errbot's prefix.

Install: put this folder on ``BOT_EXTRA_PLUGIN_DIR`` (``adapters/errbot/plugin`` of a Squall
checkout, or of the installed package) and set ``SQUALL_CONFIG`` in errbot's ``config.py`` to a
Squall settings file. ``activate`` starts Squall on its own asyncio loop thread
(``bot.embedded``); messages go there with ``call_soon_threadsafe``, and replies come back
through errbot's ``send``. A message whose first word is an errbot command stays errbot's;
``!squall TEXT`` always reaches Squall. Set ``SUPPRESS_CMD_NOT_FOUND = True`` so errbot does not
answer "command not found" to Squall's aliases.
"""

from __future__ import annotations

import os
from typing import Any

from errbot import BotPlugin, botcmd

from adapters.errbot.adapter import ErrbotAdapter
from adapters.errbot.convert import incoming_event
from bot.embedded import EmbeddedSquall
from bot.settings import load_settings


class Squall(BotPlugin):  # type: ignore[misc]
    """Squall's aliases and commands (try: squall help)."""

    def activate(self) -> None:
        config = getattr(self.bot_config, "SQUALL_CONFIG", None) or os.environ.get("SQUALL_CONFIG")
        settings = load_settings(config)
        self._adapter = ErrbotAdapter(self._deliver)
        self._squall = EmbeddedSquall(settings, [self._adapter])
        self._squall.start()
        super().activate()

    def deactivate(self) -> None:
        squall = getattr(self, "_squall", None)
        if squall is not None:
            squall.stop()
        super().deactivate()

    def _deliver(self, target: str, body: str) -> None:
        self.send(self.build_identifier(target), body)

    def callback_message(self, msg: Any) -> None:
        if msg.frm == self._bot.bot_identifier:
            return
        body = str(msg.body or "")
        prefix = str(self.bot_config.BOT_PREFIX)
        prefixed = body.startswith(prefix)
        text = body[len(prefix) :].strip() if prefixed else body.strip()
        if not text or (prefixed and self._is_errbot_command(text)):
            return
        if not prefixed and msg.is_group:
            return  # in a room the bot is addressed with its prefix
        self._forward(msg, text)

    @botcmd  # type: ignore[untyped-decorator]
    def squall(self, msg: Any, args: str) -> None:
        """Run TEXT through Squall, e.g. !squall help (for names errbot also uses)."""
        self._forward(msg, args.strip() or "help")

    def _is_errbot_command(self, text: str) -> bool:
        first = text.split(maxsplit=1)[0].lower()
        return any(name.split("_")[0].lower() == first for name in self._bot.commands)

    def _forward(self, msg: Any, text: str) -> None:
        room = str(msg.frm.room) if msg.is_group else None
        # errbot's own unique id for ACLs: "@local" on Text, the JID on XMPP, … (never a nick);
        # in a room, that of the person behind the occupant, so one user is one identity.
        who = msg.frm.person if msg.is_group else msg.frm
        person = str(getattr(who, "aclattr", None) or who)
        event = incoming_event(
            adapter=self._adapter.name,
            backend=str(self._bot.mode),
            person=person,
            room=room,
            sender=str(msg.frm),
            text=text,
            prefixed=True,
            display_name=str(getattr(msg.frm, "nick", None) or person),
        )
        self._adapter.push(event)

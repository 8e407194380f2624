"""errbot's config.py for Squall on the Text backend (a terminal chat): copy it and edit.

    errbot -c adapters/errbot/config.py

Squall's own settings come from SQUALL_CONFIG (default: adapters/errbot/squall.yaml next to
this file, which makes the Text backend's user an admin). For another backend set BACKEND and
its BOT_IDENTITY as errbot documents, and map your users' identities in Squall's settings:
errbot:<backend>:<person>, e.g. errbot:irc:alice!alice@example.org.
"""

import logging
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATE = Path(os.environ.get("SQUALL_ERRBOT_HOME", Path.cwd() / "var" / "errbot"))
STATE.mkdir(parents=True, exist_ok=True)

BACKEND = "Text"  # or "IRC", "XMPP", "Telegram", … (install the backend errbot names)
BOT_DATA_DIR = str(STATE)
BOT_EXTRA_PLUGIN_DIR = str(HERE / "plugin")  # Squall's plugin
BOT_LOG_FILE = str(STATE / "errbot.log")
BOT_LOG_LEVEL = logging.WARNING
BOT_ADMINS = ("@local",)  # the Text backend's user
BOT_PREFIX = "!"

# Squall answers aliases errbot does not know: no "command not found" for them.
SUPPRESS_CMD_NOT_FOUND = True
# errbot's own plugins, minus Help, Health and Utils, whose help / status / whoami / echo
# would answer before Squall's. TextCmds gives the Text backend's !inroom, !inperson, !ml.
CORE_PLUGINS = ("ACLs", "Plugins", "ChatRoom", "Backup", "Flows", "TextCmds")

SQUALL_CONFIG = os.environ.get("SQUALL_CONFIG", str(HERE / "squall.yaml"))

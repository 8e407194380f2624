"""A live ``squall serve`` for the console's browser tests: the HTTP listener on 127.0.0.1 and
the console chat on the process's stdin/stdout (so a test can read the chat cards it prints).

Users: alice (admin, password ``ALICE_PASSWORD``, an API key), bob (no role: may run nothing),
carol (may run core.echo only), and console (whoever types at the console chat). One site alias,
``guarded echo {{message}}`` (tests/fixtures/console_aliases), waits for alice's approval.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import FIXTURES
from tests.integration.st2_server import ALICE_PASSWORD, Server, prepare
from tests.serve_process import Output, start_serve, terminate, type_line, wait_ready

CONFIG = """\
store:
  url: sqlite:///var/squall.db
packs:
  paths: {paths}
aliases:
  paths: [ALIASES]
http:
  enabled: true
  port: {port}
api:
  stream_heartbeat_seconds: 0.5
chat:
  console:
    enabled: true
routes:
  ops: {{adapter: console, channel: console}}
users:
  alice:
    roles: [admin]
  bob:
    roles: []
  carol:
    roles: [echoer]
  console:
    identities: ["console:local:console"]
    roles: [admin]
roles:
  echoer:
    - allow: {{actions: ["core.echo"]}}
""".replace("ALIASES", json.dumps(str(FIXTURES / "console_aliases")))
PASSWORDS = {"alice": ALICE_PASSWORD, "bob": "bob-has-no-roles", "carol": "carol-echoes-only"}


class ConsoleServer(Server):
    proc: subprocess.Popen[str]
    chat: Output

    def type(self, line: str) -> None:
        """A line typed at the console chat."""
        type_line(self.proc, line)


@contextlib.contextmanager
def console_server(directory: Path) -> Iterator[ConsoleServer]:
    server = prepare(directory, CONFIG, ConsoleServer, PASSWORDS)
    server.proc = start_serve(server.config)
    server.chat = Output(server.proc)
    try:
        wait_ready(server.base, server.proc, server.chat.everything)
        yield server
    finally:
        terminate(server.proc)
